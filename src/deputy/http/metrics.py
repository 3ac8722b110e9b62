"""Prometheus metrics at ``GET /metrics`` (docs/operations.md).

Every label value comes from a closed set (registered grant types, error reasons, route
templates), never from what a client sent, so that no request can grow the series without bound.
Each app has its own registry; with several worker processes each scrape sees one worker.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from deputy.errors import AdminAuthRequired, OAuthError
from deputy.protocol.request import FormRequest
from deputy.runtime import Deputy

# Seconds; dense below 25 ms, where the token endpoint's targets are.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNKNOWN = "unknown"


class _StateCollector(Collector):
    """Counters that live in the runtime (caches, the database, the rate limiters), read at
    scrape time so that the hot path pays nothing for them."""

    def __init__(self, deputy: Deputy) -> None:
        self._deputy = deputy

    def caches(self) -> Iterable[tuple[str, Any]]:
        yield "signing_keys", self._deputy.store.keys
        yield "realm", self._deputy.store.realm_cache
        yield "issuer_keys", self._deputy.context.federation.keys if self._deputy.context.federation else None

    def collect(self) -> Iterator[Metric]:
        cache = CounterMetricFamily(
            "deputy_cache_requests", "Cache look-ups by cache and result (hit or miss).", labels=["cache", "result"]
        )
        for name, holder in self.caches():
            if holder is not None and hasattr(holder, "cache_hits"):
                cache.add_metric([name, "hit"], holder.cache_hits)
                cache.add_metric([name, "miss"], holder.cache_misses)
        yield cache
        yield CounterMetricFamily(
            "deputy_db_unavailable", "Database operations that failed because the store was unavailable (503).",
            value=self._deputy.store.db.unavailable_errors,
        )
        limits = CounterMetricFamily(
            "deputy_ratelimit_errors", "Rate-limit checks skipped because the shared store (Redis) failed.",
            labels=["limit"],
        )
        for name, limiter in (("client", self._deputy.token.limits.per_client), ("user", self._deputy.token.limits.per_user)):
            if limiter is not None:
                limits.add_metric([name], getattr(limiter, "errors", 0))
        yield limits


class Metrics:
    def __init__(self, deputy: Deputy) -> None:
        self.deputy = deputy
        self.registry = CollectorRegistry(auto_describe=True)
        self.issued = Counter(
            "deputy_tokens_issued", "Tokens issued at /token, by grant type.", ["grant"], registry=self.registry
        )
        self.refused = Counter(
            "deputy_tokens_refused", "Token requests refused at /token, by grant type, OAuth error and reason.",
            ["grant", "error", "reason"], registry=self.registry,
        )
        self.latency = Histogram(
            "deputy_http_request_duration_seconds", "Time to answer an HTTP request, by route and method.",
            ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.registry.register(_StateCollector(deputy))
        # Labelled children, looked up once per label set (``labels()`` parses and locks per call);
        # the label sets are closed (module docstring), so these stay small.
        self._latency: dict[tuple[str, str], Any] = {}
        self._issued: dict[str, Any] = {}

    def observe_latency(self, endpoint: str, method: str, seconds: float) -> None:
        child = self._latency.get((endpoint, method))
        if child is None:
            child = self._latency.setdefault((endpoint, method), self.latency.labels(endpoint, method))
        child.observe(seconds)

    def grant_label(self, form: FormRequest) -> str:
        """The registered grant type (aliases resolved), or ``unknown``."""
        values = form.params.get("grant_type", ())
        grant = self.deputy.token.grants.get(values[0]) if len(values) == 1 else None
        return grant.grant_type if grant is not None else UNKNOWN

    def token_answered(self, grant: str, error: OAuthError | None) -> None:
        if error is None:
            child = self._issued.get(grant)
            if child is None:
                child = self._issued.setdefault(grant, self.issued.labels(grant))
            child.inc()
        else:
            self.refused.labels(grant, error.error, error.reason).inc()

    def token_observed(self, form: FormRequest | None, error: OAuthError | None) -> None:
        """A /token request answered (``form`` is None when its body could not be read)."""
        self.token_answered(self.grant_label(form) if form is not None else UNKNOWN, error)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times every request; the label is the matched route's template (``/admin/users/{username}``)
    or ``unmatched``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            endpoint = route.path if isinstance(route, Route) else "unmatched"
            method = scope["method"] if scope["method"] in ("GET", "POST", "PUT", "PATCH", "DELETE") else "other"
            self.metrics.observe_latency(endpoint, method, time.perf_counter() - start)


def metrics_routes(metrics: Metrics, token: str) -> list[BaseRoute]:
    expected = f"Bearer {token}".encode()

    async def scrape(request: Request) -> Response:
        if token:
            given = request.headers.get("authorization", "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, expected):
                raise AdminAuthRequired("metrics_auth_required", "metrics scrape without the metrics token")
        body = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return [Route("/metrics", scrape)]


__all__ = ["UNKNOWN", "Metrics", "MetricsMiddleware", "metrics_routes"]
