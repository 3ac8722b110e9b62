"""The UserInfo endpoint (OIDC Core §5.3) without HTTP."""

from __future__ import annotations

import pytest

from deputy.errors import InsufficientScope, InvalidToken
from deputy.protocol.userinfo import bearer_token, userinfo
from deputy.runtime import Deputy
from tests.conftest import INCIDENTS
from tests.protocol.sign_in_support import sign_in_tokens
from tests.protocol.support import exchange, user_token


def test_claims_follow_the_scopes(deputy: Deputy) -> None:
    token = sign_in_tokens(deputy, scope="openid profile email")["access_token"]
    assert userinfo(token, deputy.context) == {
        "sub": "jane", "preferred_username": "jane", "name": "Jane Doe", "email": "jane@example.com",
    }
    token = sign_in_tokens(deputy, scope="openid", prompt="consent")["access_token"]
    assert userinfo(token, deputy.context) == {"sub": "jane"}


def test_without_openid_scope(deputy: Deputy) -> None:
    token = sign_in_tokens(deputy, scope="profile")["access_token"]
    with pytest.raises(InsufficientScope):
        userinfo(token, deputy.context)


@pytest.mark.parametrize("bad", [None, "garbage", "a.b.c"])
def test_bad_tokens(deputy: Deputy, bad: str | None) -> None:
    with pytest.raises(InvalidToken):
        userinfo(bad, deputy.context)


def test_exchanged_and_resource_tokens_are_not_for_userinfo(deputy: Deputy) -> None:
    exchanged = exchange(deputy, user_token(deputy)).body["access_token"]
    with pytest.raises(InvalidToken):
        userinfo(exchanged, deputy.context)
    for_desk = sign_in_tokens(deputy, resource=INCIDENTS, scope="openid incidents:read")["access_token"]
    with pytest.raises(InvalidToken):
        userinfo(for_desk, deputy.context)


def test_id_token_is_not_a_bearer_token(deputy: Deputy) -> None:
    with pytest.raises(InvalidToken):
        userinfo(sign_in_tokens(deputy)["id_token"], deputy.context)


def test_revoked_token(deputy: Deputy) -> None:
    body = sign_in_tokens(deputy)
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None
    deputy.admin("test").withdraw_consent(consent.consent_id)
    with pytest.raises(InvalidToken):
        userinfo(body["access_token"], deputy.context)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None
