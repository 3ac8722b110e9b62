"""``deputy serve --workers 2``: one scrape of ``/metrics`` reports the tokens both workers issued,
not the share of the worker that answered it, and the server stops cleanly, leaving no metrics
files behind."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

from deputy.constants import GRANT_CLIENT_CREDENTIALS
from tests.conftest import AGENT, INCIDENTS
from tests.e2e.server import deputy_cli, free_port, serving_process, stop
from tests.http.support import basic
from tests.http.test_metrics_http import scrape, value


def issued_by_worker(directory: Path) -> dict[str, float]:
    """Tokens issued, per worker, from the workers' own counter files (``counter_<pid>.db``)."""
    issued = {}
    for path in directory.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
            for sample in metric.samples:
                if sample.name == "deputy_tokens_issued_total":
                    issued[path.stem] = issued.get(path.stem, 0.0) + sample.value
    return issued


def test_one_scrape_reports_what_every_worker_issued(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init = deputy_cli(home, "init", "--dev-realm")
    assert init.returncode == 0, init.stderr
    scratch = tmp_path / "tmp"  # the server's TMPDIR, where it makes its metrics directory
    scratch.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def token(_: int) -> int:
        # a connection of its own each time, so that either worker may accept it
        r = httpx.post(f"{base}/token", data={"grant_type": GRANT_CLIENT_CREDENTIALS, "resource": INCIDENTS},
                       headers=basic(*AGENT), timeout=30)
        return r.status_code

    with serving_process(home, port, "--workers", "2", TMPDIR=str(scratch)) as server:
        [directory] = scratch.iterdir()
        assert directory.name.startswith("deputy-metrics-")
        assert directory.stat().st_mode & 0o077 == 0  # private
        sent = 0
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(4) as pool:
            # until both workers have issued some: only then can a scrape of one be short of the total
            while len(issued_by_worker(directory)) < 2 or 0 in issued_by_worker(directory).values():
                assert time.monotonic() < deadline, f"one worker answered everything: {issued_by_worker(directory)}"
                assert list(pool.map(token, range(8))) == [200] * 8
                sent += 8
        shares = issued_by_worker(directory)
        assert sum(shares.values()) == sent and all(0 < share < sent for share in shares.values()), shares

        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(4):  # whichever worker answers, the same total
                samples = scrape(client)
                assert value(samples, "deputy_tokens_issued_total", grant=GRANT_CLIENT_CREDENTIALS) == sent
                assert not any("pid" in dict(labels) for _, labels in samples)

        assert stop(server) == 0
    assert list(scratch.iterdir()) == []
