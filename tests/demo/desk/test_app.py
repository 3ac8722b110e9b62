"""The desk over HTTP (Starlette's TestClient) with real tokens from a real Deputy: the Table API's
shape, the ACLs applied to the token's user, the attempts to get around them, and the access log
naming the user and the agent chain."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from deputy.demo.desk import IncidentDesk, create_desk_app, seed_desk
from deputy.demo.desk.app import MAX_BODY, MAX_LIMIT
from deputy.demo.desk.seed import SEED_INCIDENTS, SEED_USERS
from deputy.resource import Introspection, TokenVerifier
from deputy.resource.asgi import ProtectedResource
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS
from tests.demo.desk.conftest import Tokens, exchange
from tests.protocol.support import add_agent

TABLE = "/api/now/table/incident"
HIDDEN = [i for i in SEED_INCIDENTS if i.category in ("hr", "security")]
HIDDEN_NUMBERS = {i.number for i in HIDDEN}
NO_RECORD = {
    "error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"},
    "status": "failure",
}


@pytest.fixture
def desk() -> IncidentDesk:
    return seed_desk()


@pytest.fixture
def client(desk: IncidentDesk, resource: ProtectedResource) -> Iterator[TestClient]:
    with TestClient(create_desk_app(desk, resource), base_url="http://127.0.0.1") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["number"] for row in response.json()["result"]]


def number_of(sys_id: str) -> str:
    return next(i.number for i in SEED_INCIDENTS if i.sys_id == sys_id)


# -- the story --------------------------------------------------------------------------------


def test_show_me_5_incidents_assigned_to_me(client: TestClient, desk: IncidentDesk, tokens: Tokens,
                                            caplog: pytest.LogCaptureFixture) -> None:
    params = {"sysparm_query": "assigned_to=me", "sysparm_limit": "5",
              "sysparm_fields": "number,short_description,priority,state,assigned_to"}
    with caplog.at_level(logging.INFO, logger="deputy.demo.desk"):
        response = client.get(TABLE, params=params, headers=bearer(tokens.jane))
    assert response.status_code == 200
    result = response.json()["result"]
    assert len(result) == 5 and response.headers["x-total-count"] == "5"
    assert all(set(row) == {"number", "short_description", "priority", "state", "assigned_to"} for row in result)
    assert all(row["assigned_to"] == "jane" for row in result)
    assert not HIDDEN_NUMBERS & {row["number"] for row in result}

    entry = desk.access_log()[-1]
    hidden = [i.number for i in desk.withheld_for("jane", "assigned_to=me")]
    assert (entry.user, entry.chain, entry.status) == ("jane", ("incident-agent",), 200)
    assert list(entry.returned) == [row["number"] for row in result]
    assert [w.number for w in entry.withheld] == hidden and len(hidden) == 2
    assert entry.line() == (
        "jane via incident-agent: GET incident sysparm_query=assigned_to=me&sysparm_limit=5"
        "&sysparm_fields=number,short_description,priority,state,assigned_to"
        f" → 5 returned, 2 withheld ({hidden[0]} hr, {hidden[1]} security)"
    )
    assert entry.line() in caplog.messages
    assert tokens.jane not in caplog.text


def test_a_nested_chain_is_logged_current_actor_first(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    response = client.get(TABLE, params={"sysparm_query": "assigned_to=javascript:gs.getUserID()"},
                          headers=bearer(tokens.jane_chain))
    assert len(numbers(response)) == 5
    entry = desk.access_log()[-1]
    assert entry.chain == ("triage-agent", "incident-agent")
    assert entry.line().startswith("jane via triage-agent ← incident-agent: GET incident ")
    assert entry.line().endswith("→ 5 returned, 2 withheld (INC0010003 hr, INC0010007 security)")


def test_bob_sees_hr_with_his_agents_scope_and_never_security(client: TestClient, desk: IncidentDesk,
                                                              tokens: Tokens) -> None:
    mine = numbers(client.get(TABLE, params={"sysparm_query": "assigned_to=me"}, headers=bearer(tokens.bob)))
    categories = {i.number: i.category for i in SEED_INCIDENTS}
    assert "hr" in {categories[n] for n in mine} and "security" not in {categories[n] for n in mine}
    assert [w.category for w in desk.access_log()[-1].withheld] == ["security"]

    # Through triage-agent, which was never granted hr:read: no HR records for Bob either.
    via_triage = numbers(client.get(TABLE, params={"sysparm_query": "assigned_to=me"}, headers=bearer(tokens.bob_chain)))
    assert {categories[n] for n in via_triage} == {"inquiry"}
    assert {w.reason for w in desk.access_log()[-1].withheld} >= {"hr record; the token lacks hr:read"}


# -- nothing hidden leaks ---------------------------------------------------------------------


def test_a_hidden_record_by_sys_id_is_not_found(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    for incident in HIDDEN:
        response = client.get(f"{TABLE}/{incident.sys_id}", headers=bearer(tokens.jane))
        assert response.status_code == 404 and response.json() == NO_RECORD
        assert incident.short_description not in response.text
        entry = desk.access_log()[-1]
        assert entry.status == 404 and [w.number for w in entry.withheld] == [incident.number]
    missing = client.get(f"{TABLE}/{'f' * 32}", headers=bearer(tokens.jane))
    assert missing.status_code == 404 and missing.json() == NO_RECORD
    assert desk.access_log()[-1].withheld == ()


def test_queries_cannot_reach_hidden_records(client: TestClient, tokens: Tokens) -> None:
    attempts = [
        *(f"number={i.number}" for i in HIDDEN),
        *(f"sys_id={i.sys_id}" for i in HIDDEN),
        "category=hr^ORcategory=security",
        "assigned_to=me^ORcategory=hr",
        "number=INC0000000^ORnumberSTARTSWITHINC",
        "short_descriptionLIKEcomplaint^ORshort_descriptionLIKEsoc",
        "category!=network^ORDERBYDESCpriority",
    ]
    for query in attempts:
        for fields in ("", "number,category", "category", "sys_id,bogus"):
            response = client.get(TABLE, params={"sysparm_query": query, "sysparm_fields": fields,
                                                 "sysparm_limit": str(MAX_LIMIT)}, headers=bearer(tokens.jane))
            assert response.status_code == 200, response.text
            text = response.text
            assert not any(i.number in text or i.sys_id in text for i in HIDDEN), (query, fields)
            categories = {row.get("category") for row in response.json()["result"]}
            assert not categories & {"hr", "security"}, (query, fields)


def test_paging_with_offsets_never_reaches_hidden_records(client: TestClient, tokens: Tokens) -> None:
    seen: list[str] = []
    for offset in range(len(SEED_INCIDENTS) + 4):
        page = numbers(client.get(TABLE, params={"sysparm_limit": "1", "sysparm_offset": str(offset)},
                                  headers=bearer(tokens.jane)))
        seen.extend(page)
    assert len(seen) == len(SEED_INCIDENTS) - len(HIDDEN) and not HIDDEN_NUMBERS & set(seen)
    total = client.get(TABLE, params={"sysparm_limit": "1"}, headers=bearer(tokens.jane)).headers["x-total-count"]
    assert total == str(len(seen))


def test_patching_a_hidden_record_is_not_found(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    hr_case = next(i for i in HIDDEN if i.assigned_to == "jane")
    response = client.patch(f"{TABLE}/{hr_case.sys_id}", json={"state": "7"}, headers=bearer(tokens.jane))
    assert response.status_code == 404 and response.json() == NO_RECORD
    assert next(i for i in desk.incidents() if i.sys_id == hr_case.sys_id) == hr_case


# -- reads ------------------------------------------------------------------------------------


def test_get_by_sys_id_in_servicenow_shape(client: TestClient, tokens: Tokens) -> None:
    incident = next(i for i in SEED_INCIDENTS if i.assigned_to == "jane" and i.category == "network")
    response = client.get(f"{TABLE}/{incident.sys_id}", headers=bearer(tokens.jane))
    assert response.status_code == 200
    assert response.json() == {"result": incident.as_record()}
    fields = client.get(f"{TABLE}/{incident.sys_id}", params={"sysparm_fields": "state,nope,number"},
                        headers=bearer(tokens.jane))
    assert list(fields.json()["result"].items()) == [("state", incident.state), ("number", incident.number)]


def test_query_syntax_over_http(client: TestClient, tokens: Tokens) -> None:
    def ask(query: str, **extra: str) -> list[str]:
        return numbers(client.get(TABLE, params={"sysparm_query": query, **extra}, headers=bearer(tokens.jane)))

    assert ask("short_descriptionLIKEvpn") == ["INC0010001"]
    assert ask("numberSTARTSWITHINC001000") == ["INC0010001", "INC0010002", "INC0010004", "INC0010005", "INC0010008"]
    assert ask("assigned_to=me^priority=2^ORpriority=1^ORDERBYnumber") == ["INC0010001", "INC0010004"]
    assert ask("assigned_to=me^ORDERBYDESCopened_at", sysparm_limit="2") == ["INC0010008", "INC0010005"]
    assert ask("assigned_to=me^state!=2") == ["INC0010002", "INC0010005"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"sysparm_query": "assigned_to>me"}, "sysparm_query: cannot read the condition 'assigned_to>me'"),
        ({"sysparm_query": "secret_field=1"}, "sysparm_query: unknown field 'secret_field'"),
        ({"sysparm_query": "state=1^NQstate=2"}, "sysparm_query: NQ is not supported"),
        ({"sysparm_limit": "-1"}, "sysparm_limit must be a non-negative integer."),
        ({"sysparm_limit": "ten"}, "sysparm_limit must be a non-negative integer."),
        ({"sysparm_offset": "1e3"}, "sysparm_offset must be a non-negative integer."),
    ],
)
def test_bad_parameters_are_400_with_the_problem_named(client: TestClient, tokens: Tokens,
                                                        params: dict[str, str], detail: str) -> None:
    response = client.get(TABLE, params=params, headers=bearer(tokens.jane))
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failure" and body["error"]["detail"].startswith(detail)
    assert body["error"]["message"] in ("Invalid encoded query", "Invalid request")
    assert "Traceback" not in response.text


def test_a_parameter_given_twice_is_refused(client: TestClient, tokens: Tokens) -> None:
    response = client.get(f"{TABLE}?sysparm_query=assigned_to=me&sysparm_query=category=hr", headers=bearer(tokens.jane))
    assert response.status_code == 400 and "given more than once" in response.json()["error"]["detail"]


def test_limits_default_and_cap(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    visible = len(SEED_INCIDENTS) - len(HIDDEN)
    assert len(numbers(client.get(TABLE, headers=bearer(tokens.jane)))) == visible
    assert len(numbers(client.get(TABLE, params={"sysparm_limit": "999999999"}, headers=bearer(tokens.jane)))) == visible
    assert numbers(client.get(TABLE, params={"sysparm_limit": "0"}, headers=bearer(tokens.jane))) == []


# -- updates ----------------------------------------------------------------------------------


def test_the_assignee_updates_through_her_agent(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    incident = next(i for i in SEED_INCIDENTS if i.assigned_to == "jane" and i.category == "network")
    body = {"state": "6", "work_notes": "MTU lowered on the VPN profile; stable for an hour."}
    response = client.patch(f"{TABLE}/{incident.sys_id}", json=body, headers=bearer(tokens.jane))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["state"] == "6" and result["sys_updated_by"] == "jane"
    assert "jane (via incident-agent)\nMTU lowered" in result["work_notes"]
    assert desk.access_log()[-1].line() == (
        f"jane via incident-agent: PATCH incident/{incident.sys_id} → {incident.number} updated (state, work_notes)"
    )


def test_a_non_assignee_outside_the_group_is_refused(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    other = next(i for i in SEED_INCIDENTS if i.assignment_group == "network" and i.assigned_to != "jane")
    response = client.patch(f"{TABLE}/{other.sys_id}", json={"state": "7"}, headers=bearer(tokens.jane))
    assert response.status_code == 403
    assert response.json() == {"error": {"message": "Operation Failed",
                                         "detail": "ACL Exception Update Failed due to security constraints"},
                               "status": "failure"}
    assert next(i for i in desk.incidents() if i.sys_id == other.sys_id) == other


def test_writes_need_incidents_write(client: TestClient, tokens: Tokens) -> None:
    incident = next(i for i in SEED_INCIDENTS if i.assigned_to == "jane" and i.category == "network")
    response = client.patch(f"{TABLE}/{incident.sys_id}", json={"state": "7"}, headers=bearer(tokens.jane_chain))
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert 'scope="incidents:write"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"category": "hr"}', "Field 'category' cannot be updated"),
        (b'{"state": "2"', "The body is not valid JSON."),
        (b'["state"]', "The body must be a JSON object"),
        (b'{"work_notes": "' + b"x" * MAX_BODY + b'"}', f"The body is larger than {MAX_BODY} bytes."),
    ],
)
def test_bad_patch_bodies(client: TestClient, tokens: Tokens, body: bytes, detail: str) -> None:
    incident = next(i for i in SEED_INCIDENTS if i.assigned_to == "jane" and i.category == "network")
    response = client.patch(f"{TABLE}/{incident.sys_id}", content=body, headers=bearer(tokens.jane))
    assert response.status_code == 400
    assert response.json()["error"]["detail"].startswith(detail)


# -- who may call -----------------------------------------------------------------------------


def test_no_token_gets_the_sdks_challenge_and_is_logged(client: TestClient, desk: IncidentDesk,
                                                        resource: ProtectedResource) -> None:
    response = client.get(TABLE, params={"sysparm_query": "assigned_to=me", "access_token": "not-logged"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer scope="incidents:read", resource_metadata=')
    assert desk.access_log()[-1].line() == "(unauthenticated): GET incident sysparm_query=assigned_to=me → 401 no token"
    metadata = client.get(resource.metadata_path).json()
    assert metadata["resource"] == "https://incidents.example" and "incidents:read" in metadata["scopes_supported"]


def test_a_token_for_another_audience_is_refused(client: TestClient, tokens: Tokens) -> None:
    response = client.get(TABLE, headers=bearer(tokens.jane_user))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_a_user_the_directory_does_not_know(resource: ProtectedResource, tokens: Tokens) -> None:
    desk = IncidentDesk([u for u in SEED_USERS if u.name != "bob"], SEED_INCIDENTS)
    with TestClient(create_desk_app(desk, resource)) as client:
        response = client.get(TABLE, headers=bearer(tokens.bob))
    assert response.status_code == 403
    assert response.json() == {"error": {"message": "User Not Authorized",
                                         "detail": "The token's user is not a user of the incident desk."},
                               "status": "failure"}
    assert desk.access_log()[-1].line() == "bob via incident-agent: GET incident → 403 User Not Authorized"


def test_unknown_routes_and_methods_answer_in_servicenow_shape(client: TestClient, tokens: Tokens) -> None:
    other = client.get("/api/now/table/hr_case", headers=bearer(tokens.jane))
    assert other.status_code == 404 and other.json()["status"] == "failure"
    put = client.put(f"{TABLE}/{'0' * 32}", json={}, headers=bearer(tokens.jane))
    assert put.status_code == 405 and put.json()["error"]["message"] == "Method not Supported"


def test_an_unexpected_error_is_a_fixed_500(desk: IncidentDesk, resource: ProtectedResource, tokens: Tokens,
                                            monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail: db at 10.0.0.7")

    monkeypatch.setattr(desk, "search", broken)
    with TestClient(create_desk_app(desk, resource)) as client, caplog.at_level(logging.ERROR, logger="deputy.demo.desk"):
        response = client.get(TABLE, headers=bearer(tokens.jane))
    assert response.status_code == 500
    assert response.json() == {"error": {"message": "Internal server error",
                                         "detail": "The request could not be completed."}, "status": "failure"}
    assert "10.0.0.7" in caplog.text and tokens.jane not in caplog.text
    assert desk.access_log()[-1].status == 500


# -- revocation -------------------------------------------------------------------------------


def test_with_introspection_a_revoked_token_is_refused_at_once(issuer: tuple[Deputy, str]) -> None:
    deputy, base = issuer
    client_id, secret = add_agent(deputy, "incident-desk-test", {})  # the desk's introspection credential
    introspecting = ProtectedResource(TokenVerifier(base, INCIDENTS, introspection=Introspection(client_id, secret)))
    token = exchange(base, AGENT, deputy.admin("test").issue_user_token("jane", "incident-agent"), resource=INCIDENTS)
    desk = seed_desk()
    with TestClient(create_desk_app(desk, introspecting)) as watching, \
            TestClient(create_desk_app(desk, introspecting, introspect=False)) as trusting:
        assert watching.get(TABLE, headers=bearer(token)).status_code == 200
        assert httpx.post(f"{base}/revoke", data={"token": token}, auth=AGENT).status_code == 200
        refused = watching.get(TABLE, headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
        assert desk.access_log()[-1].line() == "(unauthenticated): GET incident → 401 invalid_token"
        # Without introspection the JWT stays good until it expires: the trade-off, made explicit.
        assert trusting.get(TABLE, headers=bearer(token)).status_code == 200


def test_introspect_true_needs_an_introspection_client(resource: ProtectedResource) -> None:
    with pytest.raises(ValueError, match="introspection"):
        create_desk_app(seed_desk(), resource, introspect=True)


def test_a_forged_log_line_stays_on_one_line(client: TestClient, desk: IncidentDesk, tokens: Tokens) -> None:
    query = "short_descriptionLIKEvpn\nadmin via nobody: GET incident → 0 returned"
    response = client.get(TABLE, params={"sysparm_query": query}, headers=bearer(tokens.jane))
    assert response.status_code == 200
    line = desk.access_log()[-1].line()
    assert "\n" not in line and "\\n" in line
