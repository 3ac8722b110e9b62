"""Authorization server metadata (RFC 8414) and OpenID discovery."""

from __future__ import annotations

from typing import Any

from deputy.constants import (
    CLIENT_ASSERTION_ALGORITHMS,
    ISSUING_ALGORITHMS,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_JWT,
)


def server_metadata(
    issuer: str, grant_types: list[str], auth_methods: list[str], *, max_chain_depth: int, openid: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "grant_types_supported": grant_types,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(CLIENT_ASSERTION_ALGORITHMS),
        "response_types_supported": [],
        "scopes_supported": [],
        # RFC 8693 token exchange: what may be exchanged and requested
        "token_exchange_subject_token_types_supported": [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT],
        "token_exchange_requested_token_types_supported": [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT],
        "access_token_signing_alg_values_supported": list(ISSUING_ALGORITHMS),
        "deputy_max_chain_depth": max_chain_depth,
    }
    if openid:
        metadata["subject_types_supported"] = ["public"]
        metadata["id_token_signing_alg_values_supported"] = list(ISSUING_ALGORITHMS)
    return metadata
