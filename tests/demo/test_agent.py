"""The demo agent over real HTTP: who it lets in, and what reaches the desk on the user's behalf."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.agent import UserToken
from deputy.demo.agent.brain import Planner
from deputy.demo.agent.brokers import DESK
from deputy.demo.agent.host import AgentRefused, ask
from deputy.demo.stack import AGENT_CLIENT, DemoStack
from tests.demo.conftest import user_token

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
STORY = "Show me 5 incidents assigned to me"
MACHINE_REALM = """
[[resources]]
identifier = "incident-agent"
name = "The incident agent as an API"
scopes = ["mcp:tools"]

[[agents]]
client_id = "nightly-report"
name = "Nightly report bot"
owners = ["jane"]
status = "active"
subject_groups = []
secret = "nightly-report-secret"
resources = [{ resource = "incident-agent", scopes = ["mcp:tools"] }]
"""


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def mcp_post(stack: DemoStack, token: str) -> httpx.Response:
    return httpx.post(stack.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
    })


def test_a_machine_token_with_no_user_is_refused(stack: DemoStack, tmp_path: Path) -> None:
    extra = tmp_path / "machine.toml"
    extra.write_text(MACHINE_REALM)
    load_realm(stack.deputy.admin("test"), read_realm_file(extra))
    issued = httpx.post(f"{stack.issuer}/token", auth=("nightly-report", "nightly-report-secret"),
                        data={"grant_type": "client_credentials", "audience": "incident-agent"})
    assert issued.status_code == 200, issued.text
    machine = issued.json()["access_token"]
    assert claims(machine)["aud"] == "incident-agent" and claims(machine)["sub"] == "nightly-report"

    refused = mcp_post(stack, machine)
    assert refused.status_code == 403
    assert refused.json()["error"] == "user_token_required"
    with pytest.raises(AgentRefused) as caught:
        asyncio.run(ask(stack.mcp_url, machine, STORY, Planner()))
    assert caught.value.status == 403 and "signed-in user" in str(caught.value)
    assert stack.desk.access_log() == []


def test_a_token_for_another_audience_is_refused(stack: DemoStack) -> None:
    jane = user_token(stack, "jane")
    desk_token = httpx.post(f"{stack.issuer}/token", auth=AGENT_CLIENT, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": jane, "subject_token_type": ACCESS,
        "resource": "https://incidents.example",
    }).json()["access_token"]
    assert claims(desk_token)["aud"] == "https://incidents.example"

    for token in (desk_token, "not-a-token"):
        refused = mcp_post(stack, token)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert "resource_metadata=" in refused.headers["www-authenticate"]
    assert mcp_post(stack, jane).status_code == 200  # the user's own token for the agent is let in
    anonymous = httpx.post(stack.mcp_url, json={})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    metadata = httpx.get(f"{stack.agent_url}/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == "incident-agent" and metadata["authorization_servers"] == [stack.issuer]


def test_a_tool_call_reaches_the_desk_as_jane_via_the_agent(stack: DemoStack) -> None:
    jane = user_token(stack, "jane")
    answer = asyncio.run(ask(stack.mcp_url, jane, STORY, Planner()))

    [call] = answer.calls
    assert call.name == "query_incidents" and call.error is None
    numbers = [r["number"] for r in call.records]
    assert len(numbers) == 5
    [entry] = stack.desk.access_log()
    assert entry.user == "jane" and entry.chain == ("incident-agent",)
    assert list(entry.returned) == numbers
    hidden = {w.number for w in entry.withheld}
    assert hidden == {i.number for i in stack.desk.withheld_for("jane", "assigned_to=me")} and len(hidden) == 2
    assert not hidden & set(numbers)
    assert entry.line().startswith("jane via incident-agent: GET incident")

    # the token the desk got: Jane's authority, the agent acting, nothing from her own token passed on
    used = stack.agent.broker.get_token(DESK, user_token=UserToken(jane, issuer=stack.issuer, subject="jane"))
    delegated = claims(used.value)
    assert delegated["sub"] == "jane" and delegated["act"]["sub"] == "incident-agent" and "act" not in delegated["act"]
    assert delegated["aud"] == "https://incidents.example" and delegated["scope"] == "incidents:read"
    assert used.value != jane and claims(jane)["aud"] == "incident-agent"


def test_bob_gets_his_own_answer_through_the_same_agent(stack: DemoStack) -> None:
    jane = asyncio.run(ask(stack.mcp_url, user_token(stack, "jane"), STORY, Planner()))
    bob = asyncio.run(ask(stack.mcp_url, user_token(stack, "bob"), STORY, Planner()))
    jane_numbers = {r["number"] for r in jane.calls[0].records}
    bob_numbers = {r["number"] for r in bob.calls[0].records}
    assert bob_numbers and not bob_numbers & jane_numbers
    _, bob_entry = stack.desk.access_log()
    assert bob_entry.user == "bob" and bob_entry.chain == ("incident-agent",)
    assert {w.number for w in bob_entry.withheld} == {i.number for i in stack.desk.withheld_for("bob", "assigned_to=me")}


def test_the_triage_agent_makes_a_nested_act(stack: DemoStack) -> None:
    jane = user_token(stack, "jane")
    answer = asyncio.run(ask(stack.mcp_url, jane, "triage my incidents", Planner()))
    [call] = answer.calls
    assert call.error is None and call.result["triaged_by"] == "triage-agent"
    [entry] = stack.desk.access_log()
    assert entry.user == "jane" and entry.chain == ("triage-agent", "incident-agent")
    assert "jane via triage-agent ← incident-agent" in entry.line()
    priorities = [int(r["priority"]) for r in call.records]
    assert priorities == sorted(priorities)


def test_the_triage_agent_refuses_a_token_for_the_agent(stack: DemoStack) -> None:
    jane = user_token(stack, "jane")  # for incident-agent, not for triage-agent
    refused = httpx.post(f"{stack.agent_url}/triage", json={}, headers={"Authorization": f"Bearer {jane}"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


def test_after_suspension_the_next_request_is_refused_with_deputys_reason(stack: DemoStack) -> None:
    jane = user_token(stack, "jane")
    assert asyncio.run(ask(stack.mcp_url, jane, STORY, Planner())).calls[0].error is None
    suspended = httpx.post(f"{stack.issuer}/admin/agents/incident-agent/status", json={"status": "suspended"},
                           headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert suspended.status_code == 200 and suspended.json()["revoked_tokens"] >= 1

    answer = asyncio.run(ask(stack.mcp_url, jane, STORY, Planner()))
    [call] = answer.calls
    assert call.result is None and call.error is not None
    assert "Deputy refused the token exchange (400 unauthorized_client" in call.error
    last = stack.desk.access_log()[-1]
    assert last.status == 401 and last.returned == ()  # the cached token was refused at the desk
