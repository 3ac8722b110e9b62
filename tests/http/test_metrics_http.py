"""Prometheus metrics: scrape, act, scrape again, and see the counters move; with several worker
processes, one scrape sees the total of all of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import values as prometheus_values

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.constants import GRANT_CLIENT_CREDENTIALS, GRANT_TOKEN_EXCHANGE
from deputy.http import create_app
from deputy.http.metrics import MULTIPROCESS_ENV, Metrics
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.http.support import basic, exchange, user_token


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_issued_refused_and_latency_move(client: TestClient) -> None:
    before = scrape(client)
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    for _ in range(3):
        assert exchange(client, AGENT, subject, resource=INCIDENTS).status_code == 200
    assert exchange(client, AGENT, subject, resource="https://unknown.example").status_code == 400
    assert client.post("/token", data={"grant_type": GRANT_CLIENT_CREDENTIALS, "resource": INCIDENTS},
                       headers=basic(*AGENT)).status_code == 200
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("deputy_tokens_issued_total", grant=GRANT_TOKEN_EXCHANGE) == 3
    assert moved("deputy_tokens_issued_total", grant=GRANT_CLIENT_CREDENTIALS) == 1
    assert moved("deputy_tokens_refused_total", grant=GRANT_TOKEN_EXCHANGE, error="invalid_target",
                 reason="target_unknown") == 1
    assert moved("deputy_http_request_duration_seconds_count", endpoint="/token", method="POST") == 5
    assert moved("deputy_http_request_duration_seconds_count", endpoint="/admin/users/{username}/tokens",
                 method="POST") == 1
    # the signing-key ring was used from its cache for the exchanges
    assert moved("deputy_cache_requests_total", cache="signing_keys", result="hit") >= 3
    # the agent and the user of the second and third exchanges came from the realm cache
    assert moved("deputy_cache_requests_total", cache="realm", result="hit") >= 2
    assert ("deputy_cache_requests_total", frozenset({("cache", "issuer_keys"), ("result", "miss")})) in after


def test_labels_never_carry_what_a_client_sent(client: TestClient) -> None:
    evil = f"evil-{uuid.uuid4().hex}"
    r = client.post("/token", data={"grant_type": evil}, headers=basic(*AGENT))
    assert r.status_code == 400
    client.post("/token", data={"grant_type": GRANT_CLIENT_CREDENTIALS}, headers=basic(*AGENT), params={"x": evil})
    client.get(f"/{evil}")
    client.post("/token", content=b"\xff\xfe", headers={"content-type": "text/plain"})
    text = client.get("/metrics").text
    assert evil not in text
    samples = scrape(client)
    assert value(samples, "deputy_tokens_refused_total", grant="unknown", error="unsupported_grant_type",
                 reason="unsupported_grant_type") == 1
    assert value(samples, "deputy_tokens_refused_total", grant="unknown", error="invalid_request",
                 reason="unsupported_content_type") == 1
    assert value(samples, "deputy_http_request_duration_seconds_count", endpoint="unmatched", method="GET") == 1


def test_database_outage_is_counted(client: TestClient, deputy: Deputy) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    original = deputy.store.db.engine
    deputy.store.db.engine = create_engine("sqlite:////nonexistent-deputy-dir/deputy.db")
    try:
        assert exchange(client, AGENT, subject, resource=INCIDENTS).status_code == 503
    finally:
        deputy.store.db.engine.dispose()
        deputy.store.db.engine = original
    samples = scrape(client)
    assert value(samples, "deputy_db_unavailable_total") >= 1
    assert value(samples, "deputy_tokens_refused_total", grant=GRANT_TOKEN_EXCHANGE, error="temporarily_unavailable",
                 reason="store_unavailable") == 1


def test_a_metrics_token_guards_the_scrape(tmp_path: Path, clock: FixedClock) -> None:
    secret = "metrics-token-0123456789"
    deputy = Deputy.open(Settings(issuer=ISSUER, home=tmp_path, admin_token=ADMIN_TOKEN, metrics_token=secret), clock)
    try:
        with TestClient(create_app(deputy, ADMIN_TOKEN)) as client:
            assert client.get("/metrics").status_code == 401
            assert client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 401
            assert client.get("/metrics", headers={"Authorization": "Bearer \u00e9".encode("latin-1")}).status_code == 401
            assert "deputy_tokens_issued" in client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).text
    finally:
        deputy.close()


def test_metrics_can_be_switched_off(tmp_path: Path, clock: FixedClock) -> None:
    deputy = Deputy.open(Settings(issuer=ISSUER, home=tmp_path, admin_token=ADMIN_TOKEN, metrics_enabled=False), clock)
    try:
        with TestClient(create_app(deputy, ADMIN_TOKEN)) as client:
            assert client.get("/metrics").status_code == 404
            r = client.post("/token", data={"grant_type": GRANT_CLIENT_CREDENTIALS, "resource": INCIDENTS}, headers=basic(*AGENT))
            assert r.status_code == 401  # the realm is not loaded here; the endpoint still answers
    finally:
        deputy.close()


@pytest.fixture
def as_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """``as_worker(pid)``: from now on this process is worker ``pid`` of a multiprocess deployment
    whose shared directory is ``tmp_path / "metrics"``, as a worker that ``deputy serve --workers N``
    started would be (the variable set and prometheus_client writing to per-pid files)."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    monkeypatch.setenv(MULTIPROCESS_ENV, str(directory))

    def become(pid: int) -> None:
        monkeypatch.setattr(prometheus_values, "ValueClass", prometheus_values.MultiProcessValue(lambda: pid))

    try:
        yield become
    finally:
        prometheus_values.close_all_multiprocess_files()


def test_one_scrape_counts_every_worker(as_worker: Callable[[int], None], settings: Settings, clock: FixedClock,
                                         deputy: Deputy) -> None:
    """Two workers (each its own runtime, as in its own process) answer token requests and stop;
    a third, which answered none, reports their sum, runtime counters included."""
    workers: list[Deputy] = []
    try:
        for pid, (auth, issued) in {1001: (AGENT, 3), 1002: (TRIAGE, 2)}.items():
            as_worker(pid)
            workers.append(worker := Deputy.open(settings, clock))
            with TestClient(create_app(worker, ADMIN_TOKEN)) as client:
                for _ in range(issued):
                    r = client.post("/token", data={"grant_type": GRANT_CLIENT_CREDENTIALS, "resource": INCIDENTS},
                                    headers=basic(*auth))
                    assert r.status_code == 200, r.text
                r = client.post("/token", data={"grant_type": GRANT_CLIENT_CREDENTIALS, "resource": "https://x.example"},
                                headers=basic(*auth))
                assert r.status_code == 400
        as_worker(1003)
        workers.append(worker := Deputy.open(settings, clock))
        with TestClient(create_app(worker, ADMIN_TOKEN)) as client:
            samples = scrape(client)
            again = scrape(client)
    finally:
        for worker in workers:
            worker.close()

    directory = Path(settings.home).parent / "metrics"
    assert sorted(f.name for f in directory.iterdir()) == ["counter_1001.db", "counter_1002.db", "counter_1003.db",
                                                           "histogram_1001.db", "histogram_1002.db", "histogram_1003.db"]
    assert value(samples, "deputy_tokens_issued_total", grant=GRANT_CLIENT_CREDENTIALS) == 5
    refused = {k: v for k, v in samples.items() if k[0] == "deputy_tokens_refused_total"}
    assert list(refused.values()) == [2]
    assert value(samples, "deputy_http_request_duration_seconds_count", endpoint="/token", method="POST") == 7
    # the first scrape's own latency is in the second
    assert value(again, "deputy_http_request_duration_seconds_count", endpoint="/metrics", method="GET") == 1
    for cache, holder in (("signing_keys", "keys"), ("realm", "realm_cache")):
        for result, attribute in (("hit", "cache_hits"), ("miss", "cache_misses")):
            total = sum(getattr(getattr(w.store, holder), attribute) for w in workers)
            assert value(samples, "deputy_cache_requests_total", cache=cache, result=result) == total
    # more than any one worker saw: the runtime counters of all of them
    assert value(samples, "deputy_cache_requests_total", cache="realm", result="hit") > max(
        w.store.realm_cache.cache_hits for w in workers)
    assert ("deputy_db_unavailable_total", frozenset()) in samples


def test_a_directory_named_too_late_is_refused_at_start_up(deputy: Deputy, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """prometheus_client chose in-memory counters when it was imported; files nobody writes would
    report zeros for ever."""
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="set after prometheus_client was imported"):
        Metrics(deputy)
