"""The authorization request: client and redirect URI errors are shown, never redirected; every
other error goes back to the registered redirect URI with state and iss (RFC 6749 §4.1.2.1,
RFC 9207); PKCE is S256 only (RFC 7636); resource per RFC 8707."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deputy.errors import OAuthError
from deputy.protocol.authorization_request import RedirectError, redirect_location
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import INCIDENTS
from tests.protocol.sign_in_support import REDIRECT, authorize_pairs, pkce, query_of


def shown(deputy: Deputy, **params: str | None) -> OAuthError:
    with pytest.raises(OAuthError) as exc:
        deputy.authorization.parse(authorize_pairs(pkce()[1], **params))
    assert not isinstance(exc.value, RedirectError)
    return exc.value


def redirected(deputy: Deputy, **params: str | None) -> dict[str, str]:
    with pytest.raises(RedirectError) as exc:
        deputy.authorization.parse(authorize_pairs(pkce()[1], **params))
    assert exc.value.redirect_uri == REDIRECT
    return query_of(redirect_location(exc.value, deputy.settings.issuer))


def test_a_good_request_parses(deputy: Deputy) -> None:
    request = deputy.authorization.parse(authorize_pairs(pkce()[1], resource=INCIDENTS, scope="incidents:read"))
    assert request.client.client_id == "incident-agent"
    assert request.redirect_uri == REDIRECT and request.state == "s-123" and request.nonce == "n-456"
    assert request.resource is not None and request.resource.identifier == INCIDENTS
    assert request.scopes == frozenset({"incidents:read"})


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"client_id": None}, "authorize_client_missing"),
        ({"client_id": "nobody"}, "authorize_client_unknown"),
        ({"redirect_uri": None}, "redirect_uri_missing"),
        ({"redirect_uri": "https://attacker.example/callback"}, "redirect_uri_mismatch"),
        # exact matching: no prefix, no path extension, no extra query, no case folding
        ({"redirect_uri": REDIRECT + "/evil"}, "redirect_uri_mismatch"),
        ({"redirect_uri": REDIRECT + "?next=https://attacker.example"}, "redirect_uri_mismatch"),
        ({"redirect_uri": "http://127.0.0.1:8400/Callback"}, "redirect_uri_mismatch"),
        ({"redirect_uri": "http://127.0.0.1:8401/callback"}, "redirect_uri_mismatch"),
        ({"redirect_uri": "http://127.0.0.1:8400/callback/"}, "redirect_uri_mismatch"),
    ],
)
def test_client_and_redirect_uri_errors_are_shown_not_redirected(
    deputy: Deputy, params: dict[str, str | None], reason: str
) -> None:
    error = shown(deputy, **params)
    assert error.reason == reason


def test_duplicated_redirect_uri_is_shown(deputy: Deputy) -> None:
    pairs = authorize_pairs(pkce()[1]) + [("redirect_uri", "https://attacker.example/cb")]
    with pytest.raises(OAuthError) as exc:
        deputy.authorization.parse(pairs)
    assert not isinstance(exc.value, RedirectError) and exc.value.reason == "duplicate_parameter"


def test_inactive_client_is_shown(deputy: Deputy) -> None:
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    assert shown(deputy).reason == "authorize_client_not_active"


def test_client_without_redirect_uris_cannot_use_the_flow(deputy: Deputy) -> None:
    assert shown(deputy, client_id="triage-agent").reason == "redirect_uri_mismatch"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE missing
        ({"code_challenge_method": None}, "invalid_request"),  # missing method means plain
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "bad\\scope"}, "invalid_scope"),
        ({"resource": "https://unknown.example"}, "invalid_target"),
        ({"resource": "not a uri"}, "invalid_target"),
        ({"resource": "https://incidents.example#frag"}, "invalid_target"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"request": "eyJ..."}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
    ],
)
def test_later_errors_go_back_with_state_and_iss(deputy: Deputy, params: dict[str, str | None], error: str) -> None:
    query = redirected(deputy, **params)
    assert query["error"] == error
    assert query["state"] == "s-123"
    assert query["iss"] == deputy.settings.issuer
    assert "error_description" in query


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "pkce_missing"),
        ({"code_challenge_method": "plain"}, "pkce_method_unsupported"),
        ({"code_challenge_method": None}, "pkce_method_unsupported"),
    ],
)
def test_pkce_reasons(deputy: Deputy, params: dict[str, str | None], reason: str) -> None:
    with pytest.raises(RedirectError) as exc:
        deputy.authorization.parse(authorize_pairs(pkce()[1], **params))
    assert exc.value.error.reason == reason


def test_resource_the_client_has_no_grant_for_is_invalid_target(deputy: Deputy) -> None:
    admin = deputy.admin("test")
    agent = admin.get_agent("incident-agent")
    admin.update_agent(replace(agent, resource_grants=()))
    assert redirected(deputy, resource=INCIDENTS)["error"] == "invalid_target"


def test_two_resources_are_refused(deputy: Deputy) -> None:
    pairs = authorize_pairs(pkce()[1], resource=INCIDENTS) + [("resource", "https://other.example")]
    with pytest.raises(RedirectError) as exc:
        deputy.authorization.parse(pairs)
    assert exc.value.error.error == "invalid_target"


def test_redirect_keeps_the_registered_query(deputy: Deputy) -> None:
    admin = deputy.admin("test")
    agent = admin.get_agent("incident-agent")
    admin.update_agent(replace(agent, redirect_uris=("https://app.example/cb?tenant=a",)))
    with pytest.raises(RedirectError) as exc:
        deputy.authorization.parse(
            authorize_pairs(pkce()[1], redirect_uri="https://app.example/cb?tenant=a", response_type="token")
        )
    location = redirect_location(exc.value, deputy.settings.issuer)
    assert location.startswith("https://app.example/cb?tenant=a&error=unsupported_response_type")
