"""Prometheus metrics at ``GET /metrics`` (docs/operations.md).

Every label value comes from a closed set (registered grant types, error reasons, route
templates), never from what a client sent, so that no request can grow the series without bound.

One process (``deputy dev``, ``deputy serve --workers 1``, tests) keeps its counters in memory,
in a registry of its own. Several worker processes share them through prometheus_client's
multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory before the process starts
(``deputy serve --workers N`` sets it up), every worker writes its counters to its own files
there and a scrape, whichever worker answers it, sums the files of all of them, including those
of workers that have exited, so that totals never go backwards.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
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
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The counters that live in the runtime (caches, the database, the rate limiters): name, help, labels.
STATE_COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "deputy_cache_requests": ("Cache look-ups by cache and result (hit or miss).", ("cache", "result")),
    "deputy_db_unavailable": ("Database operations that failed because the store was unavailable (503).", ()),
    "deputy_ratelimit_errors": ("Rate-limit checks skipped because the shared store (Redis) failed.", ("limit",)),
}


def state_samples(deputy: Deputy) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """The runtime's counters now: (metric name in ``STATE_COUNTERS``, label values, value)."""
    federation = deputy.context.federation
    caches: tuple[tuple[str, Any], ...] = (
        ("signing_keys", deputy.store.keys), ("realm", deputy.store.realm_cache),
        ("issuer_keys", federation.keys if federation else None),
    )
    for name, holder in caches:
        if holder is not None and hasattr(holder, "cache_hits"):
            yield "deputy_cache_requests", (name, "hit"), holder.cache_hits
            yield "deputy_cache_requests", (name, "miss"), holder.cache_misses
    yield "deputy_db_unavailable", (), deputy.store.db.unavailable_errors
    for name, limiter in (("client", deputy.token.limits.per_client), ("user", deputy.token.limits.per_user)):
        if limiter is not None:
            yield "deputy_ratelimit_errors", (name,), getattr(limiter, "errors", 0)


class _StateCollector(Collector):
    """One process: the runtime's counters read at scrape time, so that the hot path pays nothing
    for them."""

    def __init__(self, deputy: Deputy) -> None:
        self._deputy = deputy

    def collect(self) -> Iterator[Metric]:
        families = {name: CounterMetricFamily(name, text, labels=list(labels))
                    for name, (text, labels) in STATE_COUNTERS.items()}
        for name, labels, value in state_samples(self._deputy):
            families[name].add_metric(list(labels), value)
        yield from families.values()


class _StatePublisher:
    """Several processes: the runtime's counters copied into this worker's multiprocess files
    after every request (only those that moved), so that whichever worker answers a scrape
    reports the sum over all workers, under the same names and labels as one process would."""

    def __init__(self, deputy: Deputy) -> None:
        self._deputy = deputy
        self._counters = {name: Counter(name, text, labels, registry=None)
                          for name, (text, labels) in STATE_COUNTERS.items()}
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._published: dict[tuple[str, tuple[str, ...]], int] = {}
        self.publish()  # every series exists from the start, at 0 until it moves

    def publish(self) -> None:
        for name, labels, value in state_samples(self._deputy):
            key = (name, labels)
            last = self._published.get(key)
            if last == value:
                continue
            child = self._children.get(key)
            if child is None:
                counter = self._counters[name]
                child = self._children[key] = counter.labels(*labels) if labels else counter
            # A holder replaced by a new one (its count restarted) adds its whole count.
            child.inc(value - last if last is not None and value >= last else value)
            self._published[key] = value


def multiprocess_directory() -> str | None:
    """The shared directory when this process runs in multiprocess mode, else None. The mode is
    fixed when prometheus_client is first imported; a variable set later would leave the
    counters in memory and every scrape at zero, so that is refused at start-up."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    in_files = bool(getattr(prometheus_values.ValueClass, "_multiprocess", False))
    if directory and not in_files:
        raise RuntimeError(f"{MULTIPROCESS_ENV} was set after prometheus_client was imported")
    if in_files and not (directory and os.path.isdir(directory)):
        raise RuntimeError(f"{MULTIPROCESS_ENV} does not name a directory")
    return directory if in_files else None


class Metrics:
    def __init__(self, deputy: Deputy) -> None:
        self.deputy = deputy
        self.directory = multiprocess_directory()
        # The registry a scrape reads; with several processes the metrics below write to files
        # and are registered nowhere, and the scrape reads the files of all processes instead.
        self.registry = CollectorRegistry(auto_describe=True)
        own = self.registry if self.directory is None else None
        self.issued = Counter("deputy_tokens_issued", "Tokens issued at /token, by grant type.", ["grant"], registry=own)
        self.refused = Counter(
            "deputy_tokens_refused", "Token requests refused at /token, by grant type, OAuth error and reason.",
            ["grant", "error", "reason"], registry=own,
        )
        self.latency = Histogram(
            "deputy_http_request_duration_seconds", "Time to answer an HTTP request, by route and method.",
            ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=own,
        )
        self.state: _StatePublisher | None = None
        if self.directory is None:
            self.registry.register(_StateCollector(deputy))
        else:
            MultiProcessCollector(self.registry, path=self.directory)  # type: ignore[no-untyped-call]
            self.state = _StatePublisher(deputy)
        # Labelled children, looked up once per label set (``labels()`` parses and locks per call);
        # the label sets are closed (module docstring), so these stay small.
        self._latency: dict[tuple[str, str], Any] = {}
        self._issued: dict[str, Any] = {}

    def observe_latency(self, endpoint: str, method: str, seconds: float) -> None:
        child = self._latency.get((endpoint, method))
        if child is None:
            child = self._latency.setdefault((endpoint, method), self.latency.labels(endpoint, method))
        child.observe(seconds)

    def publish_state(self) -> None:
        """With several processes, after each request: this worker's runtime counters to its files."""
        if self.state is not None:
            self.state.publish()

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

    def process_exiting(self) -> None:
        """This worker is stopping: its counter files stay (totals must not go backwards when a
        worker exits); ``mark_process_dead`` drops only what is per live process (``live*``
        gauges, of which Deputy has none today)."""
        if self.directory is not None:
            self.publish_state()
            mark_process_dead(os.getpid(), self.directory)  # type: ignore[no-untyped-call]


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
            self.metrics.publish_state()


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


__all__ = ["MULTIPROCESS_ENV", "UNKNOWN", "Metrics", "MetricsMiddleware", "metrics_routes"]
