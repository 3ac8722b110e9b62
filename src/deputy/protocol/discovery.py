"""Authorization server metadata (RFC 8414) and OpenID discovery."""

from __future__ import annotations

from typing import Any

from deputy.constants import (
    AUTH_NONE,
    CLIENT_ASSERTION_ALGORITHMS,
    GRANT_CIBA,
    GRANT_JWT_BEARER,
    GRANT_PROFILE_ID_JAG,
    ID_TOKEN_ALG,
    ISSUING_ALGORITHMS,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_JWT,
    TOKEN_TYPE_REFRESH_TOKEN,
)
from deputy.protocol.tokens.id_token import CLAIMS_SUPPORTED


def server_metadata(
    issuer: str, grant_types: list[str], auth_methods: list[str], *, max_chain_depth: int, openid: bool = False,
    scopes: list[str] | None = None, registration: bool = False, identity_chaining: bool = False,
) -> dict[str, Any]:
    """The RFC 8414 document. ``openid`` (the OIDC Discovery document) changes nothing: every
    member OIDC Discovery §3 requires is always present. ``identity_chaining``: this server
    issues ID-JAGs (it is an enterprise IdP for cross-app access, docs/dialects.md)."""
    # "none" (public clients) is for the token endpoint only: introspection and revocation need a
    # confidential client.
    confidential = [m for m in auth_methods if m != AUTH_NONE]
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": confidential,
        "introspection_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": confidential,
        "revocation_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGORITHMS),
        # Sign-in: the authorization code flow with PKCE (RFC 7636), RFC 9207, OpenID Connect
        "authorization_endpoint": f"{issuer}/authorize",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent"],
        "scopes_supported": scopes or [],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALG],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        # RFC 8693 token exchange: what may be exchanged and requested
        "token_exchange_subject_token_types_supported": [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT],
        "token_exchange_requested_token_types_supported": [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT],
        "access_token_signing_alg_values_supported": list(ISSUING_ALGORITHMS),
        "deputy_max_chain_depth": max_chain_depth,
    }
    if registration:
        metadata["registration_endpoint"] = f"{issuer}/register"
    if GRANT_JWT_BEARER in grant_types:
        # The resource AS side of cross-app access: ID-JAGs are redeemed with the jwt-bearer grant.
        metadata["authorization_grant_profiles_supported"] = [GRANT_PROFILE_ID_JAG]
    if GRANT_CIBA in grant_types:
        # OpenID CIBA Core §4: poll mode only; no user codes.
        metadata["backchannel_authentication_endpoint"] = f"{issuer}/bc-authorize"
        metadata["backchannel_token_delivery_modes_supported"] = ["poll"]
        metadata["backchannel_user_code_parameter_supported"] = False
    if identity_chaining:
        # The IdP side: token exchange for an ID-JAG, from an ID token or a refresh token.
        metadata["identity_chaining_requested_token_types_supported"] = [TOKEN_TYPE_ID_JAG]
        metadata["token_exchange_requested_token_types_supported"].append(TOKEN_TYPE_ID_JAG)
        metadata["token_exchange_subject_token_types_supported"] += [TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_REFRESH_TOKEN]
    return metadata
