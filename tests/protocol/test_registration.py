"""Dynamic client registration metadata (RFC 7591 §2, §3.2.2)."""

from __future__ import annotations

from typing import Any

import pytest

from deputy.errors import InvalidClientMetadata, InvalidRedirectUri
from deputy.protocol.registration import parse_registration
from deputy.realm import AgentStatus


def register(**body: Any) -> Any:
    return parse_registration({"redirect_uris": ["https://app.example/cb"], **body}, status=AgentStatus.STAGED)


def test_defaults_to_a_confidential_client() -> None:
    reg = register(client_name="My App")
    assert reg.confidential and not reg.agent.public_client
    assert reg.agent.client_id.startswith("dyn-") and reg.agent.status is AgentStatus.STAGED
    assert reg.agent.redirect_uris == ("https://app.example/cb",) and reg.agent.name == "My App"
    assert reg.agent.resource_grants == () and reg.agent.subject_users == () and reg.agent.subject_groups == ()
    assert reg.metadata == {
        "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"], "response_types": ["code"], "client_name": "My App",
    }


def test_public_client() -> None:
    reg = register(token_endpoint_auth_method="none", grant_types=["authorization_code", "refresh_token"])
    assert reg.agent.public_client and not reg.confidential


@pytest.mark.parametrize(
    "uris",
    [
        [], "https://app.example/cb", ["http://app.example/cb"], ["https://app.example/cb#frag"], ["/relative"],
        ["javascript:alert(1)"], [42], ["https://a.example/cb"] * 11,
    ],
)
def test_bad_redirect_uris(uris: Any) -> None:
    with pytest.raises(InvalidRedirectUri) as exc:
        parse_registration({"redirect_uris": uris}, status=AgentStatus.ACTIVE)
    assert exc.value.error == "invalid_redirect_uri"


def test_loopback_http_is_allowed() -> None:
    assert register(redirect_uris=["http://127.0.0.1:3000/cb", "http://localhost/cb"]).agent.redirect_uris


@pytest.mark.parametrize(
    "body",
    [
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"grant_types": ["client_credentials"]},
        {"grant_types": ["refresh_token"]},
        {"grant_types": "authorization_code"},
        {"response_types": ["token"]},
        {"client_name": 7},
    ],
)
def test_bad_metadata(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidClientMetadata) as exc:
        register(**body)
    assert exc.value.error == "invalid_client_metadata"


def test_not_an_object() -> None:
    with pytest.raises(InvalidClientMetadata):
        parse_registration(["redirect_uris"], status=AgentStatus.ACTIVE)
