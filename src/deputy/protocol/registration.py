"""Dynamic client registration (RFC 7591): client metadata in, a sign-in client out.

Registered clients may use the authorization code flow only (and refresh tokens): no token
exchange, no resource grants and no users to act for until an administrator gives them some.
Public clients (``token_endpoint_auth_method`` ``none``) get no secret; PKCE, always required,
protects their codes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from deputy.constants import (
    AUTH_CLIENT_SECRET_BASIC,
    AUTH_CLIENT_SECRET_POST,
    AUTH_NONE,
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
)
from deputy.errors import InvalidClientMetadata, InvalidRedirectUri
from deputy.realm import Agent, AgentStatus

AUTH_METHODS = (AUTH_NONE, AUTH_CLIENT_SECRET_BASIC, AUTH_CLIENT_SECRET_POST)
GRANT_TYPES = (GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN)
MAX_REDIRECT_URIS = 10
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ClientRegistration:
    agent: Agent
    confidential: bool  # gets a client secret
    metadata: dict[str, Any]  # the registered metadata, echoed in the response (§3.2.1)


def _metadata_error(text: str) -> InvalidClientMetadata:
    return InvalidClientMetadata("client_metadata_invalid", text, public=text)


def check_redirect_uri(uri: object) -> str:
    """Absolute, no fragment, https (or http on the loopback interface): RFC 6749 §3.1.2,
    OAuth 2.1 §2.3.1, RFC 8252 §7.3."""
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise InvalidRedirectUri("redirect_uri_invalid", "not a string", public="Each redirect URI must be a string.")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri or not parts.scheme or not parts.netloc:
        raise InvalidRedirectUri(
            "redirect_uri_invalid", uri, public="A redirect URI must be absolute and have no fragment."
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise InvalidRedirectUri(
            "redirect_uri_invalid", uri, public="A redirect URI must use https (http only on the loopback interface)."
        )
    return uri


def _string_list(data: Mapping[str, Any], name: str, default: list[str]) -> list[str]:
    value = data.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _metadata_error(f"{name} must be an array of strings.")
    return list(dict.fromkeys(value))


def parse_registration(body: object, *, status: AgentStatus) -> ClientRegistration:
    if not isinstance(body, Mapping):
        raise _metadata_error("The request body must be a JSON object.")
    raw_uris = body.get("redirect_uris")
    if not isinstance(raw_uris, list) or not raw_uris:
        raise InvalidRedirectUri(
            "redirect_uri_invalid", "redirect_uris", public="redirect_uris must be a non-empty array."
        )
    if len(raw_uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri("redirect_uri_invalid", "too many", public="At most 10 redirect URIs.")
    redirect_uris = tuple(dict.fromkeys(check_redirect_uri(u) for u in raw_uris))

    method = body.get("token_endpoint_auth_method", AUTH_CLIENT_SECRET_BASIC)
    if method not in AUTH_METHODS:
        raise _metadata_error(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}.")
    grant_types = _string_list(body, "grant_types", [GRANT_AUTHORIZATION_CODE])
    if not set(grant_types) <= set(GRANT_TYPES) or GRANT_AUTHORIZATION_CODE not in grant_types:
        raise _metadata_error("grant_types may be authorization_code and refresh_token, and must include the first.")
    response_types = _string_list(body, "response_types", ["code"])
    if response_types != ["code"]:
        raise _metadata_error("response_types must be [\"code\"].")
    name = body.get("client_name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise _metadata_error("client_name must be a string of at most 200 characters.")
    name = "".join(c for c in name if c.isprintable())

    client_id = "dyn-" + secrets.token_hex(8)
    agent = Agent(
        client_id=client_id, name=name, description="Registered through dynamic client registration",
        status=status, redirect_uris=redirect_uris, public_client=method == AUTH_NONE,
    )
    metadata: dict[str, Any] = {
        "redirect_uris": list(redirect_uris),
        "token_endpoint_auth_method": method,
        "grant_types": grant_types,
        "response_types": response_types,
    }
    if name:
        metadata["client_name"] = name
    return ClientRegistration(agent, method != AUTH_NONE, metadata)
