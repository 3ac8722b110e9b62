"""Liveness and readiness, for load balancers and orchestrators (docs/operations.md).

``/healthz`` says the process answers and touches nothing else: a database outage must not make
an orchestrator restart every worker. ``/readyz`` says this worker can issue tokens now: the
database answers and an active signing key is loaded for every issuing algorithm.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from deputy.constants import ISSUING_ALGORITHMS
from deputy.errors import DeputyError, TemporarilyUnavailable
from deputy.protocol.response import NO_STORE
from deputy.runtime import Deputy


def readiness(deputy: Deputy) -> dict[str, str]:
    """Each check's state: ``ok``, ``unavailable`` (the database does not answer) or ``missing``."""
    checks: dict[str, str] = {}
    try:
        deputy.store.db.ping()
        checks["database"] = "ok"
    except DeputyError:
        checks["database"] = "unavailable"
    try:
        ring = deputy.store.keys.key_ring()
        checks["signing_keys"] = "ok" if ring.algorithms >= set(ISSUING_ALGORITHMS) else "missing"
    except DeputyError:
        checks["signing_keys"] = "unavailable"
    return checks


def health_routes(deputy: Deputy) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers=dict(NO_STORE))

    async def readyz(request: Request) -> Response:
        checks = await run_in_threadpool(readiness, deputy)
        if all(state == "ok" for state in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks}, headers=dict(NO_STORE))
        headers = {**NO_STORE, "Retry-After": str(TemporarilyUnavailable.retry_after)}
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503, headers=headers)

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
