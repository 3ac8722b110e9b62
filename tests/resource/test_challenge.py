"""WWW-Authenticate challenges (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1) and error bodies."""

from __future__ import annotations

from deputy.resource import (
    AuthenticationRequired,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    TemporarilyUnavailable,
    challenges,
    error_body,
    www_authenticate,
)

META = "https://api.example/.well-known/oauth-protected-resource"


def test_invalid_token() -> None:
    value = www_authenticate(InvalidToken("expired at 12:00"), realm="incidents", resource_metadata=META)
    assert value == (
        'Bearer realm="incidents", error="invalid_token", '
        f'error_description="The access token is invalid.", resource_metadata="{META}"'
    )
    assert "12:00" not in value  # the detail is private


def test_no_token_has_no_error_code_but_scope_and_metadata() -> None:
    (value,) = challenges(AuthenticationRequired(), scopes=["incidents:read"], resource_metadata=META)
    assert value == f'Bearer scope="incidents:read", resource_metadata="{META}"'


def test_insufficient_scope_names_the_scope() -> None:
    error = InsufficientScope(scopes=["incidents:read", "hr:read"])
    (value,) = challenges(error, resource_metadata=META)
    assert 'error="insufficient_scope"' in value and 'scope="incidents:read hr:read"' in value
    assert error.status_code == 403


def test_invalid_token_carries_no_scope() -> None:
    (value,) = challenges(InvalidToken(), scopes=["incidents:read"], resource_metadata=META)
    assert "scope=" not in value


def test_dpop_challenges() -> None:
    algs = ("ES256", "PS256")
    bearer, dpop = challenges(AuthenticationRequired(), scopes=["a"], resource_metadata=META, dpop_algs=algs)
    assert bearer.startswith("Bearer ") and dpop == f'DPoP scope="a", resource_metadata="{META}", algs="ES256 PS256"'
    (only,) = challenges(AuthenticationRequired(), dpop_algs=algs, bearer=False)
    assert only == 'DPoP algs="ES256 PS256"'
    (proof,) = challenges(InvalidDPoPProof("replayed"), dpop_algs=algs)
    assert proof == 'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid.", algs="ES256 PS256"'
    (bound_as_bearer,) = challenges(InvalidToken(scheme="DPoP"), dpop_algs=algs)
    assert bound_as_bearer.startswith('DPoP error="invalid_token"')
    (no_dpop,) = challenges(InvalidToken(scheme="DPoP"))
    assert no_dpop.startswith("Bearer ")


def test_quoting() -> None:
    assert www_authenticate(realm='a "b" \\ c\r\n') == 'Bearer realm="a \\"b\\" \\\\ c"'
    assert www_authenticate() == "Bearer"


def test_unavailable_has_no_challenge() -> None:
    assert challenges(TemporarilyUnavailable(), resource_metadata=META) == []


def test_bodies() -> None:
    assert error_body(InvalidToken("secret detail")) == {
        "error": "invalid_token",
        "error_description": "The access token is invalid.",
    }
    assert error_body(AuthenticationRequired()) == {"error_description": "An access token is required."}
    assert error_body(InvalidRequest())["error"] == "invalid_request"
    assert str(InvalidToken("why")) == "invalid_token: why"
