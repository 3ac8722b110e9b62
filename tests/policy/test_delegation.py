"""Unit tests of the delegation decision (DESIGN.md, "The delegation decision")."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from deputy.errors import PUBLIC_TEXT
from deputy.policy import DelegationRequest, decide
from deputy.policy.delegation import decide_client_credentials, may_act_allows
from deputy.realm import Agent, AgentStatus, Resource, ResourceGrant, User

ISSUER = "https://deputy.example"
DESK = Resource("https://desk.example", scopes=("read", "write", "admin"), token_ttl=120)
AGENT = Agent(
    "agent-a", status=AgentStatus.ACTIVE, subject_groups=("it",),
    resource_grants=(ResourceGrant(DESK.identifier, ("read", "write", "undefined")),),
)
JANE = User("jane", groups=("it",))


def request(**overrides: Any) -> DelegationRequest:
    values: dict[str, Any] = {
        "agent": AGENT, "user": JANE, "resource": DESK, "user_entitlements": frozenset({"read", "write", "admin"}),
        "requested_scopes": None, "subject_scopes": None, "chain_depth": 1, "max_chain_depth": 5,
        "may_act": None, "issuer": ISSUER, "impersonation": False,
    }
    values.update(overrides)
    return DelegationRequest(**values)


def test_grants_the_intersection_of_agent_user_and_resource() -> None:
    decision = decide(request())
    assert decision.allowed
    # "admin": the user has it but the agent may not; "undefined": the agent's grant names a
    # scope the resource does not define.
    assert decision.scopes == frozenset({"read", "write"})
    assert decision.ttl == 120
    assert decision.reasons == ("granted",)


@pytest.mark.parametrize(
    ("requested", "user", "subject", "expected"),
    [
        (None, {"read", "write"}, None, {"read", "write"}),
        ({"read"}, {"read", "write"}, None, {"read"}),
        ({"read", "write", "admin"}, {"read"}, None, {"read"}),
        (None, {"read", "write"}, {"read"}, {"read"}),
        ({"write"}, {"read", "write"}, {"read", "write"}, {"write"}),
        ({"read", "write"}, {"write", "admin"}, {"read", "write"}, {"write"}),
        (None, {"read", "write", "undefined"}, None, {"read", "write"}),
    ],
)
def test_intersection_rule(
    requested: set[str] | None, user: set[str], subject: set[str] | None, expected: set[str]
) -> None:
    decision = decide(
        request(
            requested_scopes=frozenset(requested) if requested is not None else None,
            user_entitlements=frozenset(user),
            subject_scopes=frozenset(subject) if subject is not None else None,
        )
    )
    assert decision.allowed
    assert decision.scopes == frozenset(expected)
    # Authority never grows: every granted scope is in every input set that applies.
    for limit in (user, set(DESK.scopes), {"read", "write", "undefined"}, requested, subject):
        if limit is not None:
            assert decision.scopes <= frozenset(limit)


@pytest.mark.parametrize(
    "overrides",
    [
        {"requested_scopes": frozenset({"admin"})},
        {"requested_scopes": frozenset({"nonexistent"})},
        {"user_entitlements": frozenset()},
        {"user_entitlements": frozenset({"admin"})},
        {"subject_scopes": frozenset()},  # an empty downstream scope grants nothing
        {"subject_scopes": frozenset({"admin"})},
        {"requested_scopes": frozenset({"write"}), "subject_scopes": frozenset({"read"})},
    ],
)
def test_nothing_left_is_refused(overrides: dict[str, Any]) -> None:
    decision = decide(request(**overrides))
    assert not decision.allowed
    assert decision.reasons[0] == "scope_empty"
    assert decision.scopes == frozenset()


def test_scope_empty_explanation_names_every_input() -> None:
    decision = decide(request(requested_scopes=frozenset({"admin"}), subject_scopes=frozenset({"read"})))
    assert "requested=['admin']" in decision.explanation
    assert "subject=['read']" in decision.explanation


@pytest.mark.parametrize("status", [AgentStatus.STAGED, AgentStatus.SUSPENDED, AgentStatus.RETIRED])
def test_inactive_agent(status: AgentStatus) -> None:
    decision = decide(request(agent=replace(AGENT, status=status)))
    assert not decision.allowed
    assert decision.reasons == ("client_not_active",)


def test_disabled_user() -> None:
    decision = decide(request(user=replace(JANE, disabled=True)))
    assert decision.reasons == ("subject_user_unknown",)


def test_user_outside_the_agents_subjects() -> None:
    decision = decide(request(user=User("bob", groups=("hr",))))
    assert decision.reasons == ("subject_not_delegated",)
    assert "bob" in decision.explanation


@pytest.mark.parametrize(
    ("users", "groups", "user", "allowed"),
    [
        (("*",), (), User("anyone"), True),
        (("bob",), (), User("bob"), True),
        (("bob",), (), User("bobby"), False),
        ((), ("hr",), User("bob", groups=("sales", "hr")), True),
        ((), ("hr",), User("bob", groups=("HR",)), False),
        ((), (), User("bob", groups=("hr",)), False),
    ],
)
def test_subjects_the_agent_may_act_for(users: tuple[str, ...], groups: tuple[str, ...], user: User, allowed: bool) -> None:
    agent = replace(AGENT, subject_users=users, subject_groups=groups)
    decision = decide(request(agent=agent, user=user))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reasons == ("subject_not_delegated",)


def test_resource_without_grant() -> None:
    other = Resource("https://other.example", scopes=("read",))
    decision = decide(request(resource=other))
    assert decision.reasons == ("target_not_allowed",)


def test_grant_matching_is_exact() -> None:
    almost = Resource("https://desk.example/", scopes=("read",))
    assert decide(request(resource=almost)).reasons == ("target_not_allowed",)


def test_chain_depth_at_the_limit_is_allowed() -> None:
    assert decide(request(chain_depth=5, max_chain_depth=5)).allowed


def test_chain_depth_beyond_the_limit() -> None:
    decision = decide(request(chain_depth=6, max_chain_depth=5))
    assert decision.reasons == ("chain_too_deep",)
    assert "6" in decision.explanation and "5" in decision.explanation


@pytest.mark.parametrize(
    ("may_act", "allowed"),
    [
        ({"sub": "agent-a"}, True),
        ({"sub": "agent-a", "iss": ISSUER}, True),
        ({"sub": "agent-a", "iss": "https://elsewhere.example"}, False),
        ({"sub": "agent-b"}, False),
        ({"sub": "AGENT-A"}, False),
        ({}, False),  # names nobody
        ({"client_id": "agent-a"}, False),  # only sub identifies the actor here
    ],
)
def test_may_act(may_act: dict[str, str], allowed: bool) -> None:
    assert may_act_allows(may_act, "agent-a", ISSUER) is allowed
    decision = decide(request(may_act=may_act))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reasons == ("may_act_mismatch",)


def test_impersonation_needs_permission() -> None:
    assert decide(request(impersonation=True)).reasons == ("impersonation_not_allowed",)
    allowed = decide(request(impersonation=True, agent=replace(AGENT, may_impersonate=True)))
    assert allowed.allowed
    assert allowed.scopes == frozenset({"read", "write"})


def test_impersonation_does_not_bypass_subject_rules() -> None:
    agent = replace(AGENT, may_impersonate=True)
    decision = decide(request(impersonation=True, agent=agent, user=User("bob", groups=("hr",))))
    assert decision.reasons == ("subject_not_delegated",)


def test_refusal_order_puts_agent_state_first() -> None:
    decision = decide(
        request(
            agent=replace(AGENT, status=AgentStatus.SUSPENDED), user=replace(JANE, disabled=True),
            chain_depth=99, requested_scopes=frozenset({"admin"}),
        )
    )
    assert decision.reasons == ("client_not_active",)


def test_every_refusal_reason_has_public_text() -> None:
    cases = [
        request(agent=replace(AGENT, status=AgentStatus.SUSPENDED)),
        request(user=replace(JANE, disabled=True)),
        request(impersonation=True),
        request(user=User("bob")),
        request(resource=Resource("https://x.example", scopes=("read",))),
        request(chain_depth=9),
        request(may_act={"sub": "someone"}),
        request(requested_scopes=frozenset({"admin"})),
    ]
    reasons = [decide(case).reasons[0] for case in cases]
    assert len(set(reasons)) == len(reasons)
    for reason in reasons:
        assert reason in PUBLIC_TEXT


# -- client credentials -------------------------------------------------------------------------

def test_client_credentials_is_limited_by_the_grant_and_the_resource() -> None:
    decision = decide_client_credentials(AGENT, DESK, None)
    assert decision.allowed
    assert decision.scopes == frozenset({"read", "write"})
    assert decision.ttl == DESK.token_ttl


def test_client_credentials_narrowed_by_request() -> None:
    assert decide_client_credentials(AGENT, DESK, frozenset({"write", "admin"})).scopes == frozenset({"write"})


def test_client_credentials_refusals() -> None:
    assert decide_client_credentials(AGENT, DESK, frozenset({"admin"})).reasons == ("scope_empty",)
    other = Resource("https://other.example", scopes=("read",))
    assert decide_client_credentials(AGENT, other, None).reasons == ("target_not_allowed",)
    suspended = replace(AGENT, status=AgentStatus.SUSPENDED)
    assert decide_client_credentials(suspended, DESK, None).reasons == ("client_not_active",)
