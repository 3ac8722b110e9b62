"""Principal: the user, the current actor, prior actors (informational), scopes, claims."""

from __future__ import annotations

import dataclasses

import pytest

from deputy.resource import Principal
from deputy.resource.principal import read_chain

CLAIMS = {
    "sub": "jane",
    "client_id": "triage-agent",
    "scope": "incidents:read incidents:write",
    "jti": "j-1",
    "exp": 1_800_000_300,
    "act": {"sub": "triage-agent", "act": {"sub": "incident-agent"}},
    "aud": ["https://api.example"],
}


def test_delegated_chain() -> None:
    principal = Principal.from_claims(CLAIMS)
    assert principal.user == "jane"
    assert principal.agent == "triage-agent"  # the outermost act is the current actor
    assert principal.chain == ("triage-agent", "incident-agent")
    assert principal.prior_actors == ("incident-agent",)
    assert principal.is_delegated and not principal.is_impersonated
    assert principal.token_id == "j-1" and principal.expires_at == 1_800_000_300
    assert principal.describe() == "jane <- triage-agent <- incident-agent"


def test_the_users_own_token() -> None:
    principal = Principal.from_claims({k: v for k, v in CLAIMS.items() if k != "act"})
    assert principal.agent is None and principal.chain == () and principal.prior_actors == ()
    assert not principal.is_delegated and not principal.is_impersonated
    assert principal.describe() == "jane"


def test_scopes() -> None:
    principal = Principal.from_claims(CLAIMS)
    assert principal.scopes == frozenset({"incidents:read", "incidents:write"})
    assert principal.has_scope("incidents:read")
    assert principal.has_scope("incidents:read", "incidents:write")
    assert not principal.has_scope("incidents:read", "hr:read")
    assert principal.has_scope()


def test_read_only() -> None:
    principal = Principal.from_claims(CLAIMS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.user = "bob"  # type: ignore[misc]
    with pytest.raises(TypeError):
        principal.claims["sub"] = "bob"  # type: ignore[index]
    with pytest.raises(TypeError):
        principal.claims["act"]["sub"] = "evil"
    assert principal.claims["aud"] == ("https://api.example",)
    source = {**CLAIMS, "act": {"sub": "x"}}
    copy = Principal.from_claims(source)
    source["act"]["sub"] = "changed"  # type: ignore[index]
    assert copy.claims["act"]["sub"] == "x"


@pytest.mark.parametrize("act", ["agent", {"sub": 3}, {"sub": ""}, {"sub": "a", "act": "b"}])
def test_malformed_chains(act: object) -> None:
    with pytest.raises(ValueError):
        read_chain({"act": act})


def test_chain_depth_is_bounded() -> None:
    act: dict[str, object] = {"sub": "a0"}
    for i in range(20):
        act = {"sub": f"a{i + 1}", "act": act}
    with pytest.raises(ValueError, match="deeper"):
        read_chain({"act": act})
