"""The console on the wire: sign-in, each page, CSRF refusals, admin-only pages, framing headers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from httpx import Response
from starlette.applications import Starlette
from starlette.testclient import TestClient

from deputy.accounts import csrf_token
from deputy.clock import FixedClock
from deputy.protocol.backchannel_ports import BackchannelStatus
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER
from tests.http.console_support import ADMIN_USER, actions, add_admin, console_sign_in, field
from tests.http.support import basic
from tests.protocol.ciba_support import APPROVAL_SCOPE, bc_authorize, poll, require_approval, stored
from tests.protocol.support import exchange, introspect, is_active, user_token


@pytest.fixture(autouse=True)
def approval_marked(deputy: Deputy) -> None:
    require_approval(deputy, APPROVAL_SCOPE)
    add_admin(deputy)


@pytest.fixture
def admin_client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as client:
        console_sign_in(client, *ADMIN_USER, next_path="/console/agents")
        yield client


def assert_page_headers(r: Response) -> None:
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["cache-control"] == "no-store"


PAGES = ["/console/approvals", "/console/my-agents", "/console/agents", "/console/audit"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_sign_in(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{ISSUER}/signin?next={path}"


def test_console_root_and_sign_in_comes_back(client: TestClient) -> None:
    assert client.get("/console", follow_redirects=False).headers["location"] == f"{ISSUER}/console/approvals"
    console_sign_in(client, next_path="/console/my-agents")


@pytest.mark.parametrize("next_path", ["https://evil.example/x", "//evil.example", "/console/../admin", "/elsewhere"])
def test_sign_in_never_redirects_off_the_console_or_grants(client: TestClient, next_path: str) -> None:
    page = client.get("/signin", params={"next": next_path})
    r = client.post("/signin", data={"csrf_token": field(page, "csrf_token"), "username": "jane",
                                     "password": "jane-dev-password", "next": next_path}, follow_redirects=False)
    assert r.headers["location"] == f"{ISSUER}/account/grants"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_refuses_framing(admin_client: TestClient, path: str) -> None:
    r = admin_client.get(path)
    assert r.status_code == 200
    assert_page_headers(r)
    assert "<script" not in r.text


def test_approvals_page_approve_then_the_agent_gets_its_token(client: TestClient, deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy, binding_message="Close <INC-42> & notify").body["auth_req_id"]
    console_sign_in(client)
    page = client.get("/console/approvals")
    assert page.status_code == 200 and "incident-agent" in page.text
    assert "Close &lt;INC-42&gt; &amp; notify" in page.text  # escaped
    assert "needs your approval" in page.text
    [path] = actions(page, stored(deputy, auth_req_id).request_id)
    r = client.post(path, data={"csrf_token": field(page, "csrf_token"), "decision": "approve"}, follow_redirects=False)
    assert r.status_code == 303 and "done=approved" in r.headers["location"]
    assert stored(deputy, auth_req_id).status is BackchannelStatus.APPROVED
    clock.advance(5)
    assert poll(deputy, auth_req_id).body["scope"] == APPROVAL_SCOPE
    approved = [r.event for r in deputy.store.audit.records() if r.event.type == "backchannel.approved"]
    assert approved[-1].data["via"] == "console"


def test_approvals_deny_and_csrf_refusal(client: TestClient, deputy: Deputy) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    console_sign_in(client)
    page = client.get("/console/approvals")
    [path] = actions(page, stored(deputy, auth_req_id).request_id)
    for token in ("", "forged", field(page, "csrf_token") + "x"):
        r = client.post(path, data={"csrf_token": token, "decision": "approve"})
        assert r.status_code == 403 and "expired" in r.text
    assert stored(deputy, auth_req_id).status is BackchannelStatus.PENDING
    assert client.post(path, data={"csrf_token": field(page, "csrf_token"), "decision": "maybe"}).status_code == 400
    r = client.post(path, data={"csrf_token": field(page, "csrf_token"), "decision": "deny"}, follow_redirects=False)
    assert r.status_code == 303 and stored(deputy, auth_req_id).status is BackchannelStatus.DENIED
    again = client.post(path, data={"csrf_token": field(page, "csrf_token"), "decision": "approve"})
    assert again.status_code == 404 and stored(deputy, auth_req_id).status is BackchannelStatus.DENIED


def test_another_users_request_cannot_be_approved(client: TestClient, deputy: Deputy) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]  # for jane
    console_sign_in(client, "bob", "bob-dev-password")
    page = client.get("/console/approvals")
    assert "Nothing is waiting for you" in page.text
    request_id = stored(deputy, auth_req_id).request_id
    bobs_token = csrf_token(client.cookies["deputy_session"], "console")  # a valid token of bob's session
    r = client.post(f"/console/approvals/{request_id}", data={"csrf_token": bobs_token, "decision": "approve"})
    assert r.status_code == 404 and stored(deputy, auth_req_id).status is BackchannelStatus.PENDING


def test_posts_without_a_session_are_refused(client: TestClient, deputy: Deputy) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    request_id = stored(deputy, auth_req_id).request_id
    r = client.post(f"/console/approvals/{request_id}", data={"csrf_token": "x", "decision": "approve"})
    assert r.status_code == 403 and stored(deputy, auth_req_id).status is BackchannelStatus.PENDING


def test_my_agents_lists_and_withdraws(client: TestClient, deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    deputy.approvals.decide(stored(deputy, auth_req_id).request_id, "jane", True, via="test")
    clock.advance(5)
    token = poll(deputy, auth_req_id).body["access_token"]
    console_sign_in(client)
    page = client.get("/console/my-agents")
    assert page.status_code == 200 and APPROVAL_SCOPE in page.text and "Incident desk" in page.text
    [path] = actions(page, "/withdraw")
    assert client.post(path, data={"csrf_token": "nope"}).status_code == 403
    assert is_active(deputy, token)
    r = client.post(path, data={"csrf_token": field(page, "csrf_token")}, follow_redirects=False)
    assert r.status_code == 303
    assert not is_active(deputy, token)
    assert "No agent may act for you" in client.get("/console/my-agents").text


def test_admin_pages_are_refused_to_a_non_admin(client: TestClient) -> None:
    console_sign_in(client)
    page = client.get("/console/approvals")
    assert "/console/agents" not in page.text  # no link either
    for path in ("/console/agents", "/console/audit", "/console/audit/export"):
        r = client.get(path)
        assert r.status_code == 403 and "administrators only" in r.text
        assert_page_headers(r)
    janes_token = csrf_token(client.cookies["deputy_session"], "console")
    for path in ("/console/agents/incident-agent/status", "/console/agents/incident-agent/rotate"):
        r = client.post(path, data={"csrf_token": janes_token, "action": "suspend"})
        assert r.status_code == 403


def test_admin_suspends_an_agent_and_its_exchange_is_refused(admin_client: TestClient, deputy: Deputy) -> None:
    subject = user_token(deputy)
    live = exchange(deputy, subject).body["access_token"]
    page = admin_client.get("/console/agents")
    assert "incident-agent" in page.text and "status-active" in page.text and "group it" in page.text
    [path] = [p for p in actions(page, "/status") if "incident-agent" in p]
    assert admin_client.post(path, data={"csrf_token": "bad", "action": "suspend"}).status_code == 403
    r = admin_client.post(path, data={"csrf_token": field(page, "csrf_token"), "action": "suspend"}, follow_redirects=False)
    assert r.status_code == 303
    agent = deputy.store.realm.get_agent("incident-agent")
    assert agent is not None and agent.status is AgentStatus.SUSPENDED
    assert introspect(deputy, live, auth=("triage-agent", "triage-agent-dev-secret")) == {"active": False}
    answer = admin_client.post("/token", headers=basic(*AGENT), data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "resource": INCIDENTS,
    })
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    assert admin_client.post(path, data={"csrf_token": field(page, "csrf_token"), "action": "fly"}).status_code == 400


def test_admin_rotates_a_secret_shown_once(admin_client: TestClient, deputy: Deputy) -> None:
    page = admin_client.get("/console/agents")
    [path] = [p for p in actions(page, "/rotate") if "triage-agent" in p]
    r = admin_client.post(path, data={"csrf_token": field(page, "csrf_token")})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    shown = re.search(r'id="secret" readonly value="([^"]+)"', r.text)
    assert shown is not None and shown.group(1).startswith("dps_")
    value = shown.group(1)
    old = admin_client.post("/token", headers=basic("triage-agent", "triage-agent-dev-secret"),
                            data={"grant_type": "client_credentials", "resource": INCIDENTS})
    assert old.status_code == 401
    new = admin_client.post("/token", headers=basic("triage-agent", value),
                            data={"grant_type": "client_credentials", "resource": INCIDENTS})
    assert new.status_code == 200
    assert value not in admin_client.get("/console/agents").text
    assert all(value not in json.dumps(r.event.to_dict()) for r in deputy.store.audit.records())


def test_audit_filters_paths_and_export(admin_client: TestClient, deputy: Deputy) -> None:
    hop = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    exchange(deputy, hop, auth=("triage-agent", "triage-agent-dev-secret"))
    page = admin_client.get("/console/audit", params={"user": "jane", "resource": INCIDENTS, "outcome": "success"})
    assert page.status_code == 200
    path = re.findall(r'<ol class="path" aria-label="chain">(.*?)</ol>', page.text)
    assert "<li>jane</li><li>incident-agent</li><li>triage-agent</li><li>https://incidents.example</li>" in path
    none = admin_client.get("/console/audit", params={"agent": "nobody-at-all"})
    assert "No event matches" in none.text
    future = admin_client.get("/console/audit", params={"since": "2999-01-01"})
    assert "No event matches" in future.text
    export = admin_client.get("/console/audit/export", params={"user": "jane", "outcome": "success"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in export.headers["content-disposition"]
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines and all(item["subject"] == "jane" and item["outcome"] == "success" for item in lines)
    assert {"seq", "hash", "prev_hash", "type"} <= set(lines[0])


def test_admin_creates_and_edits_an_agent(admin_client: TestClient, deputy: Deputy) -> None:
    form = admin_client.get("/console/agents/new")
    assert form.status_code == 200 and 'for="a-client-id"' in form.text
    assert_page_headers(form)
    token = field(form, "csrf_token")
    base = {"csrf_token": token, "client_id": "desk-bot", "name": "Desk bot", "owners": "ada",
            "subject_groups": "it", "resources": f"{INCIDENTS} incidents:read\n", "status": "active"}
    assert admin_client.post("/console/agents/new", data={**base, "csrf_token": "x"}).status_code == 403
    bad = admin_client.post("/console/agents/new", data={**base, "resources": f"{INCIDENTS} nope:scope"})
    assert bad.status_code == 400 and "not defined" in bad.text and 'value="desk-bot"' in bad.text
    created = admin_client.post("/console/agents/new", data=base)
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    shown = re.search(r'id="secret" readonly value="([^"]+)"', created.text)
    assert shown is not None
    answer = admin_client.post("/token", headers=basic("desk-bot", shown.group(1)),
                               data={"grant_type": "client_credentials", "resource": INCIDENTS})
    assert answer.status_code == 200 and answer.json()["scope"] == "incidents:read"
    again = admin_client.post("/console/agents/new", data=base)
    assert again.status_code == 400 and "already exists" in again.text

    edit = admin_client.get("/console/agents/desk-bot/edit")
    assert edit.status_code == 200 and "incidents:read" in edit.text
    saved = admin_client.post("/console/agents/desk-bot/edit", data={
        **base, "csrf_token": field(edit, "csrf_token"), "client_id": "renamed", "name": "Desk bot 2",
        "resources": f"{INCIDENTS} incidents:read incidents:write",
    }, follow_redirects=False)
    assert saved.status_code == 303
    agent = deputy.store.realm.get_agent("desk-bot")
    assert agent is not None and agent.name == "Desk bot 2" and agent.status is AgentStatus.ACTIVE
    assert agent.resource_grants[0].scopes == ("incidents:read", "incidents:write")
    assert deputy.store.realm.get_agent("renamed") is None
    assert admin_client.get("/console/agents/nobody/edit").status_code == 404


def test_non_admin_cannot_create_agents(client: TestClient, deputy: Deputy) -> None:
    console_sign_in(client)
    assert client.get("/console/agents/new").status_code == 403
    janes_token = csrf_token(client.cookies["deputy_session"], "console")
    r = client.post("/console/agents/new", data={"csrf_token": janes_token, "client_id": "evil-bot"})
    assert r.status_code == 403 and deputy.store.realm.get_agent("evil-bot") is None
