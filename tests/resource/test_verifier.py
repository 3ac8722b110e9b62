"""TokenVerifier: RFC 9068 §4 verification, the same through verify() and averify()."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from deputy.clock import FixedClock
from deputy.resource import (
    AuthenticationRequired,
    Credentials,
    InsufficientScope,
    InvalidToken,
    Principal,
    ResourceError,
    TemporarilyUnavailable,
    TokenVerifier,
)
from tests.resource.support import ISSUER, JWKS, RESOURCE, START, FakeAS, raw_jwt

Verify = Callable[..., Principal]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def fake(clock: FixedClock) -> FakeAS:
    return FakeAS(clock)


@pytest.fixture(params=["sync", "async"])
def verify(request: pytest.FixtureRequest, fake: FakeAS) -> Verify:
    """verify() and averify() of one verifier: every test below runs through both."""
    verifier = fake.verifier()
    if request.param == "sync":
        return verifier.verify

    def run(*args: Any, **kwargs: Any) -> Principal:
        return asyncio.run(verifier.averify(*args, **kwargs))

    return run


def refused(verify: Verify, token: str | Credentials, error: type[ResourceError] = InvalidToken, **kw: Any) -> str:
    with pytest.raises(error) as info:
        verify(token, **kw)
    assert type(info.value) is error
    return info.value.detail


def test_a_delegated_token_gives_the_principal(fake: FakeAS, verify: Verify) -> None:
    token = fake.token(act={"sub": "triage-agent", "act": {"sub": "incident-agent"}})
    principal = verify(token, scopes=["incidents:read"])
    assert principal.user == "jane"
    assert principal.agent == "triage-agent"
    assert principal.chain == ("triage-agent", "incident-agent")
    assert principal.prior_actors == ("incident-agent",)
    assert principal.is_delegated and not principal.is_impersonated and not principal.introspected
    assert principal.client_id == "incident-agent"
    assert principal.scopes == {"incidents:read", "incidents:write"}
    assert principal.claims["iss"] == ISSUER
    assert fake.discovery_fetches == 1 and fake.jwks_fetches == 1


def test_the_principals_claims_are_read_only_at_every_depth(fake: FakeAS, verify: Verify) -> None:
    """The verifier freezes the claims it parsed in place rather than copying them (the fast path of
    Principal): nothing a handler holds can change them, and they are what from_claims would give."""
    token = fake.token(act={"sub": "triage-agent", "act": {"sub": "incident-agent"}}, groups=["a", {"b": [1]}])
    principal = verify(token)
    claims = principal.claims
    with pytest.raises(TypeError):
        claims["sub"] = "bob"  # type: ignore[index]
    with pytest.raises(TypeError):
        claims["act"]["sub"] = "evil"
    with pytest.raises(TypeError):
        claims["act"]["act"]["sub"] = "evil"
    with pytest.raises((TypeError, AttributeError)):
        claims["groups"].append("admin")
    with pytest.raises(TypeError):
        claims["groups"][1]["b"] = [2]
    assert claims["groups"] == ("a", {"b": (1,)}) and isinstance(claims["groups"][1]["b"], tuple)
    with pytest.raises(AttributeError):  # still a frozen dataclass
        principal.user = "bob"  # type: ignore[misc]
    assert principal == Principal.from_claims(claims)
    assert dict(Principal.from_claims(claims).claims) == dict(claims)


def test_rs256_and_application_at_jwt(fake: FakeAS, verify: Verify) -> None:
    assert verify(fake.token(key=fake.rs)).user == "jane"
    assert verify(fake.token(typ="application/at+jwt")).user == "jane"
    assert verify(fake.token(typ="AT+JWT")).user == "jane"  # RFC 7515 §4.1.9: case-insensitive


def test_audience_may_be_a_list(fake: FakeAS, verify: Verify) -> None:
    assert verify(fake.token(aud=["https://other.example", RESOURCE])).user == "jane"


def test_keys_are_cached(fake: FakeAS, verify: Verify, clock: FixedClock) -> None:
    for _ in range(5):
        verify(fake.token())
        clock.advance(10)
    assert (fake.discovery_fetches, fake.jwks_fetches) == (1, 1)


def test_insufficient_scope(fake: FakeAS, verify: Verify) -> None:
    with pytest.raises(InsufficientScope) as info:
        verify(fake.token(), scopes=["incidents:read", "hr:read"])
    assert info.value.scopes == ("incidents:read", "hr:read")
    assert info.value.status_code == 403


def test_token_without_scope_claim_has_no_scopes(fake: FakeAS, verify: Verify) -> None:
    assert verify(fake.token(scope=None)).scopes == frozenset()
    refused(verify, fake.token(scope=None), InsufficientScope, scopes=["incidents:read"])


@pytest.mark.parametrize("claim", ["sub", "client_id", "jti", "exp", "iat", "iss", "aud"])
def test_required_claims(fake: FakeAS, verify: Verify, claim: str) -> None:
    assert "missing claim" in refused(verify, fake.token(**{claim: None}))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", 7), ("sub", ""), ("client_id", ["a"]), ("jti", 5), ("scope", ["incidents:read"]), ("exp", "soon")],
)
def test_claim_types(fake: FakeAS, verify: Verify, claim: str, value: Any) -> None:
    refused(verify, fake.token(**{claim: value}))


@pytest.mark.parametrize("act", ["incident-agent", {"client_id": "x"}, {"sub": "a", "act": ["b"]}])
def test_malformed_act(fake: FakeAS, verify: Verify, act: object) -> None:
    assert "act" in refused(verify, fake.token(act=act))


def test_unbounded_act_chain(fake: FakeAS, verify: Verify) -> None:
    act: dict[str, Any] = {"sub": "agent-0"}
    for i in range(1, 20):
        act = {"sub": f"agent-{i}", "act": act}
    refused(verify, fake.token(act=act))


def test_time_claims_with_leeway(fake: FakeAS, verify: Verify, clock: FixedClock) -> None:
    now = clock.now()
    assert verify(fake.token(exp=now - 10)).user == "jane"  # within the 30 s leeway
    assert "expired" in refused(verify, fake.token(exp=now - 31))
    assert "not yet valid" in refused(verify, fake.token(nbf=now + 60))
    assert "future" in refused(verify, fake.token(iat=now + 60))


def test_a_bare_string_and_credentials(fake: FakeAS, verify: Verify) -> None:
    token = fake.token()
    assert verify(Credentials(token=token)).user == verify(token).user
    refused(verify, "", AuthenticationRequired)
    refused(verify, "not-a-jwt")


def test_non_string_kid(fake: FakeAS, verify: Verify) -> None:
    refused(verify, raw_jwt({"alg": "ES256", "typ": "at+jwt", "kid": 7}, fake.claims(), b"x" * 64))


# -- settings fail at start-up ---------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs",
    [
        {"algorithms": ["none"]},
        {"algorithms": ["HS256"]},
        {"algorithms": ["ES256", "HS512"]},
        {"algorithms": []},
        {"leeway": 3600},
        {"jwks_uri": "http://as.example/jwks"},  # plain http off the loopback interface
        {"jwks_uri": JWKS, "discovery_url": JWKS},
        {"refresh_interval": 0},
        {"jwks_uri": JWKS, "introspection": "set below"},
    ],
)
def test_bad_settings_fail_at_start_up(kwargs: dict[str, Any]) -> None:
    from deputy.resource import Introspection

    if kwargs.get("introspection") == "set below":
        kwargs["introspection"] = Introspection("api", "secret")  # no endpoint and no discovery
    with pytest.raises(ValueError):
        TokenVerifier(ISSUER, RESOURCE, **kwargs)


@pytest.mark.parametrize("issuer", ["http://as.example", "https://as.example?x=1", "https://as.example#f", "as.example"])
def test_bad_issuer_fails_at_start_up(issuer: str) -> None:
    with pytest.raises(ValueError):
        TokenVerifier(issuer, RESOURCE)


def test_empty_audience_fails_at_start_up() -> None:
    with pytest.raises(ValueError):
        TokenVerifier(ISSUER, "")


def test_discovery_url_follows_rfc_8414() -> None:
    assert TokenVerifier(ISSUER, RESOURCE).discovery_url == "https://as.example/.well-known/oauth-authorization-server"
    tenant = TokenVerifier("https://as.example/tenants/a", RESOURCE)
    assert tenant.discovery_url == "https://as.example/.well-known/oauth-authorization-server/tenants/a"
    local = TokenVerifier("http://127.0.0.1:8000", RESOURCE)
    assert local.discovery_url == "http://127.0.0.1:8000/.well-known/oauth-authorization-server"


# -- the authorization server unreachable --------------------------------------------------------

def test_no_keys_is_temporarily_unavailable(fake: FakeAS, verify: Verify) -> None:
    fake.status = 503
    with pytest.raises(TemporarilyUnavailable) as info:
        verify(fake.token())
    assert info.value.status_code == 503


def test_timeouts_are_temporarily_unavailable(fake: FakeAS) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    verifier = fake.verifier(http_client=httpx.Client(transport=httpx.MockTransport(hang)), timeout=0.5)
    with pytest.raises(TemporarilyUnavailable):
        verifier.verify(fake.token())
