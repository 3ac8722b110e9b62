"""``kill -9`` of a server process under load: every exchange that got a 200 has its audit event
and lineage record, and ``deputy audit verify`` still passes."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
from pathlib import Path

import httpx

from deputy.config import Settings
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from tests.conftest import ADMIN_TOKEN, AGENT, INCIDENTS
from tests.e2e.server import deputy_cli, free_port, serving_process
from tests.http.support import ADMIN, exchange


def _jti(access_token: str) -> str:
    payload = access_token.split(".")[1]
    jti: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    return jti


def test_kill_9_under_load_loses_nothing_that_was_answered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init = deputy_cli(home, "init", "--dev-realm")
    assert init.returncode == 0, init.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    answered: list[str] = []  # jtis of the exchanges that got a 200
    other: list[str] = []  # anything else the server answered before it died
    lock = threading.Lock()
    enough = threading.Event()

    def fire(subject: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while True:
                try:
                    r = exchange(client, AGENT, subject, resource=INCIDENTS)
                except httpx.HTTPError:
                    return  # the server is gone
                with lock:
                    if r.status_code != 200:
                        other.append(f"{r.status_code} {r.text}")
                        continue
                    answered.append(_jti(r.json()["access_token"]))
                    if len(answered) >= 40:
                        enough.set()

    with serving_process(home, port) as server:
        r = httpx.post(f"{base}/admin/users/jane/tokens", json={"client_id": AGENT[0], "scopes": ["incidents:read"]},
                       headers=ADMIN, timeout=30)
        assert r.status_code == 200, r.text
        subject = r.json()["access_token"]
        threads = [threading.Thread(target=fire, args=(subject,), daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=120), "the load never got going"
        os.kill(server.pid, signal.SIGKILL)  # mid-load: requests are in flight
        server.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    assert server.returncode == -signal.SIGKILL
    assert other == []

    settings = Settings(issuer=base, home=home, admin_token=ADMIN_TOKEN)
    deputy = Deputy.open(settings, initialise=False)
    try:
        issued = {rec.event.jti for rec in deputy.store.audit.records(AuditFilter(type="token.issued"))}
        for jti in answered:
            assert deputy.store.tokens.get_token(jti) is not None, f"no lineage record for {jti}"
            assert jti in issued, f"no audit event for {jti}"
    finally:
        deputy.close()
    verify = deputy_cli(home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # and the store serves again after the crash
    with serving_process(home, port):
        with httpx.Client(base_url=base, timeout=30) as client:
            r = exchange(client, AGENT, subject, resource=INCIDENTS)
            assert r.status_code == 200, r.text
