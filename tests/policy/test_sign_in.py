"""What a signed-in user can grant a client (deputy.policy.sign_in)."""

from __future__ import annotations

from deputy.policy.sign_in import decide_sign_in
from deputy.realm import Agent, AgentStatus, Resource, ResourceGrant, User

DESK = Resource("https://desk.example", scopes=("read", "write", "admin"), token_ttl=120)
AGENT = Agent("app", status=AgentStatus.ACTIVE, resource_grants=(ResourceGrant(DESK.identifier, ("read", "write")),))
JANE = User("jane", groups=("it",))
ENT = frozenset({"read", "admin"})


def test_resource_scopes_are_the_intersection() -> None:
    d = decide_sign_in(AGENT, JANE, DESK, ENT, None, client_token_ttl=3600)
    assert d.allowed and d.scopes == {"read"} and d.ttl == 120
    d = decide_sign_in(AGENT, JANE, DESK, ENT, frozenset({"openid", "read", "write"}), client_token_ttl=3600)
    assert d.scopes == {"openid", "read"}


def test_only_oidc_scopes_named_means_everything_allowed_at_the_resource() -> None:
    d = decide_sign_in(AGENT, JANE, DESK, ENT, frozenset({"openid"}), client_token_ttl=3600)
    assert d.scopes == {"openid", "read"}


def test_nothing_left() -> None:
    d = decide_sign_in(AGENT, JANE, DESK, ENT, frozenset({"write"}), client_token_ttl=3600)
    assert not d.allowed and d.reasons == ("scope_empty",)


def test_no_grant_for_the_resource() -> None:
    other = Resource("https://other.example", scopes=("read",))
    d = decide_sign_in(AGENT, JANE, other, ENT, None, client_token_ttl=3600)
    assert not d.allowed and d.reasons == ("target_not_allowed",)


def test_without_resource_only_oidc_scopes() -> None:
    d = decide_sign_in(AGENT, JANE, None, frozenset(), frozenset({"openid", "email", "read"}), client_token_ttl=3600)
    assert d.allowed and d.scopes == {"openid", "email"} and d.ttl == 3600


def test_inactive_client_and_disabled_user() -> None:
    staged = Agent("app", status=AgentStatus.STAGED)
    assert decide_sign_in(staged, JANE, None, ENT, None, client_token_ttl=1).reasons == ("client_not_active",)
    disabled = User("jane", disabled=True)
    assert not decide_sign_in(AGENT, disabled, None, ENT, None, client_token_ttl=1).allowed
