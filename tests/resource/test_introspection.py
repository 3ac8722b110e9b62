"""Introspection (RFC 7662) for revocation-sensitive calls."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from deputy.clock import FixedClock
from deputy.resource import Introspection, InvalidToken, TemporarilyUnavailable
from deputy.resource.introspection import read_introspection
from tests.resource.support import INTROSPECT, JWKS, START, FakeAS


@pytest.fixture
def fake() -> FakeAS:
    return FakeAS(FixedClock(START))


def test_active_token(fake: FakeAS) -> None:
    verifier = fake.introspecting_verifier()
    principal = verifier.verify(fake.token(), introspect=True)
    assert principal.introspected and not principal.is_impersonated
    (request,) = fake.introspected
    assert str(request.url) == INTROSPECT  # from the issuer's metadata
    expected = base64.b64encode(b"api-client:api-secret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert b"token_type_hint=access_token" in request.content


def test_not_introspected_unless_asked(fake: FakeAS) -> None:
    fake.introspecting_verifier().verify(fake.token())
    assert fake.introspected == []


def test_inactive_token_is_invalid(fake: FakeAS) -> None:
    fake.introspection = lambda token: {"active": False}
    verifier = fake.introspecting_verifier()
    token = fake.token()
    assert verifier.verify(token).user == "jane"  # locally still valid: it has not expired
    with pytest.raises(InvalidToken, match="not active"):
        verifier.verify(token, introspect=True)
    with pytest.raises(InvalidToken, match="not active"):
        asyncio.run(verifier.averify(token, introspect=True))


def test_impersonation_is_reported_by_deputy_mode(fake: FakeAS) -> None:
    fake.introspection = lambda token: {"active": True, "deputy_mode": "impersonation"}
    principal = fake.introspecting_verifier().verify(fake.token(act=None), introspect=True)
    assert principal.is_impersonated and not principal.is_delegated
    assert principal.describe() == "jane (impersonated)"


def test_an_answer_about_another_token_is_refused(fake: FakeAS) -> None:
    fake.introspection = lambda token: {"active": True, "jti": "someone-else"}
    with pytest.raises(InvalidToken, match="jti"):
        fake.introspecting_verifier().verify(fake.token(), introspect=True)


@pytest.mark.parametrize("body", [{}, {"active": "true"}, {"active": 1}])
def test_active_must_be_true(body: dict[str, object]) -> None:
    with pytest.raises(InvalidToken):
        read_introspection(body, {"jti": "x"})


def test_unreachable_is_temporarily_unavailable(fake: FakeAS) -> None:
    verifier = fake.introspecting_verifier()
    verifier.verify(fake.token())
    fake.status = 500
    with pytest.raises(TemporarilyUnavailable):
        verifier.verify(fake.token(), introspect=True)
    with pytest.raises(TemporarilyUnavailable):
        asyncio.run(verifier.averify(fake.token(), introspect=True))


def test_explicit_endpoint_with_a_jwks_uri(fake: FakeAS) -> None:
    verifier = fake.verifier(jwks_uri=JWKS, introspection=Introspection("api", "s&cret:", endpoint=INTROSPECT))
    verifier.verify(fake.token(), introspect=True)
    (request,) = fake.introspected
    # RFC 6749 §2.3.1: form-urlencoded before Basic
    assert base64.b64decode(request.headers["authorization"][6:]) == b"api:s%26cret%3A"


def test_not_configured(fake: FakeAS) -> None:
    with pytest.raises(ValueError):
        fake.verifier().verify(fake.token(), introspect=True)


def test_secret_is_not_shown() -> None:
    settings = Introspection("api", "top-secret")
    assert "top-secret" not in repr(settings)
    with pytest.raises(ValueError):
        Introspection("api", "s", endpoint="http://as.example/introspect")


def test_post_is_bounded_like_every_fetch(fake: FakeAS) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ConnectTimeout("slow", request=request)
        return fake.handle(request)

    verifier = fake.introspecting_verifier(http_client=httpx.Client(transport=httpx.MockTransport(slow)))
    with pytest.raises(TemporarilyUnavailable):
        verifier.verify(fake.token(), introspect=True)
