"""The story of issue 2, end to end over real HTTP and the real CLI.

Jane's token goes to incident-agent, which exchanges it for a token for the incident desk
(sub=jane, act=incident-agent), and also hands it down a chain to triage-agent; the audit trail
records every step and verifies; revoking the middle token kills everything below it; suspending
an agent stops it at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from typer.testing import CliRunner

from deputy.cli.main import app
from deputy.config import Settings, write_config_file
from deputy.runtime import Deputy
from tests.e2e.server import free_port, running_server

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ADMIN = "e2e-admin-token-0123456789"
AGENT = ("incident-agent", "incident-agent-dev-secret")
TRIAGE = ("triage-agent", "triage-agent-dev-secret")
INCIDENTS = "https://incidents.example"


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    write_config_file(home, {"issuer": issuer})
    monkeypatch.setenv("DEPUTY_HOME", str(home))
    result = CliRunner().invoke(app, ["init", "--dev-realm"])
    assert result.exit_code == 0, result.output
    deputy = Deputy.open(Settings.from_env(admin_token=ADMIN))
    try:
        with running_server(deputy, ADMIN, port) as base:
            yield base, home
    finally:
        deputy.close()


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def exchange(base: str, auth: tuple[str, str], subject: str, **extra: str) -> httpx.Response:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS, **extra}
    return httpx.post(f"{base}/token", data=data, auth=auth)


def test_the_whole_story(live: tuple[str, Path]) -> None:
    base, _ = live
    metadata = httpx.get(f"{base}/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == base
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"]).json())

    # 1. a user token from the CLI (stand-in for sign-in), for incident-agent
    user_token = cli("token", "user", "jane", "--client", "incident-agent").strip()

    # 2. the agent exchanges it for the incident desk
    response = exchange(base, AGENT, user_token, audience=INCIDENTS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer"
    decoded = jwt.decode(body["access_token"], keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["sub"] == "jane"
    assert claims["act"]["sub"] == "incident-agent"
    assert claims["aud"] == INCIDENTS
    assert claims["iss"] == base
    assert set(claims["scope"].split()) == {"incidents:read", "incidents:write"}  # not hr:read

    # bob (HR) gets a different intersection through the same agent
    bob_token = cli("token", "user", "bob", "--client", "incident-agent").strip()
    bob = exchange(base, AGENT, bob_token, audience=INCIDENTS).json()
    assert set(bob["scope"].split()) == {"incidents:read", "hr:read"}

    # 3. a chain: incident-agent -> triage-agent -> incident desk
    hop = exchange(base, AGENT, user_token, audience="triage-agent")
    assert hop.status_code == 200, hop.text
    final = exchange(base, TRIAGE, hop.json()["access_token"], resource=INCIDENTS)
    assert final.status_code == 200, final.text
    chained = jwt.decode(final.json()["access_token"], keys, algorithms=["ES256"]).claims
    assert chained["sub"] == "jane"
    assert chained["act"]["sub"] == "triage-agent"
    assert chained["act"]["act"]["sub"] == "incident-agent"
    assert chained["scope"] == "incidents:read"

    # 5. introspection shows the chain; revoking the middle token kills the end of the chain
    introspected = httpx.post(f"{base}/introspect", data={"token": final.json()["access_token"]}, auth=TRIAGE).json()
    assert introspected["active"] is True and introspected["act"]["act"]["sub"] == "incident-agent"
    assert httpx.post(f"{base}/revoke", data={"token": hop.json()["access_token"]}, auth=AGENT).status_code == 200
    after = httpx.post(f"{base}/introspect", data={"token": final.json()["access_token"]}, auth=TRIAGE).json()
    assert after == {"active": False}
    # ...while the sibling token for the incident desk is untouched
    sibling = httpx.post(f"{base}/introspect", data={"token": body["access_token"]}, auth=AGENT).json()
    assert sibling["active"] is True

    # suspending an agent (CLI) makes its live tokens inactive and refuses its next exchange
    cli("agents", "suspend", "incident-agent")
    assert httpx.post(f"{base}/introspect", data={"token": body["access_token"]}, auth=TRIAGE).json() == {"active": False}
    refused = exchange(base, AGENT, user_token, audience=INCIDENTS)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"

    # 6. the audit trail has every step, refusals included, and verifies
    exported = cli("audit", "export", "--user", "jane")
    events = [json.loads(line) for line in exported.splitlines() if line.strip()]
    issued = [e for e in events if e["type"] == "token.issued" and e["grant_type"] == TOKEN_EXCHANGE]
    assert len(issued) == 3
    assert any(e["actor_chain"] == ["triage-agent", "incident-agent"] for e in issued)
    agent_events = [json.loads(line) for line in cli("audit", "export", "--agent", "incident-agent").splitlines() if line]
    refusals = [e for e in agent_events if e["type"] == "token.refused"]
    assert refusals and refusals[-1]["reason"] == "client_not_active"
    assert refusals[-1]["error"] == "unauthorized_client"
    assert "intact" in cli("audit", "verify")
    shown = json.loads(cli("audit", "show", "--agent", "incident-agent", "--outcome", "failure", "--json"))
    assert shown and all(e["outcome"] == "failure" for e in shown)
    assert any(e["type"] == "token.refused" and e["reason"] == "client_not_active" for e in shown)
