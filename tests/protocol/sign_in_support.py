"""Helpers for the sign-in tests: the authorization code flow driven without HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from deputy.protocol.authorization import ConsentScreen, Redirect, SignedInUser
from deputy.protocol.response import Response
from deputy.runtime import Deputy
from tests.conftest import AGENT
from tests.helpers import form

REDIRECT = "http://127.0.0.1:8400/callback"
CLIENT = AGENT[0]


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge)"""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_pairs(challenge: str, **params: str | None) -> list[tuple[str, str]]:
    values: dict[str, str | None] = {
        "response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT, "scope": "openid profile",
        "state": "s-123", "code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n-456",
    }
    values.update(params)
    return [(k, v) for k, v in values.items() if v is not None]


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def who(deputy: Deputy, user: str = "jane") -> SignedInUser:
    return SignedInUser(user, deputy.store.clock.now())


def get_code(deputy: Deputy, user: str = "jane", *, approve: bool = True, **params: str | None) -> tuple[str, str]:
    """Run the authorization request as ``user`` (consenting if asked); returns (code, verifier)."""
    verifier, challenge = pkce()
    request = deputy.authorization.parse(authorize_pairs(challenge, **params))
    outcome = deputy.authorization.decide(request, who(deputy, user))
    if isinstance(outcome, ConsentScreen):
        assert approve, "consent was asked for"
        outcome = deputy.authorization.approve(request, who(deputy, user))
    assert isinstance(outcome, Redirect), outcome
    query = query_of(outcome.location)
    assert query["iss"] == deputy.settings.issuer and query.get("state") == params.get("state", "s-123")
    return query["code"], verifier


def redeem(
    deputy: Deputy, code: str, verifier: str, auth: tuple[str, str] | None = AGENT, **extra: str
) -> Response:
    params = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    params.update(extra)
    return deputy.token.handle(form(params, auth))


def refresh(deputy: Deputy, refresh_token: str, auth: tuple[str, str] | None = AGENT, **extra: str) -> Response:
    return deputy.token.handle(form({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}, auth))


def sign_in_tokens(deputy: Deputy, user: str = "jane", **params: str | None) -> dict[str, Any]:
    code, verifier = get_code(deputy, user, **params)
    response = redeem(deputy, code, verifier)
    assert response.status == 200, response.body
    return response.body
