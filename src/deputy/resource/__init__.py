"""The resource SDK: for the APIs agents call (docs/resource-sdk.md).

Verify Deputy's (or any RFC 9068 issuer's) access tokens, see the user and the acting agent
chain, answer refusals with the right challenges, publish RFC 9728 metadata. Depends only on
joserfc, cryptography and httpx; the web integration, :mod:`deputy.resource.asgi`, is plain ASGI
(for Starlette, FastAPI or an MCP server) and needs no web framework either.
"""

from __future__ import annotations

from deputy.resource.challenge import challenges, error_body, www_authenticate
from deputy.resource.credentials import Credentials, read_credentials
from deputy.resource.dpop import DPoPSettings, MemoryReplayCache, ReplayCache, access_token_hash
from deputy.resource.errors import (
    AuthenticationRequired,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    ResourceError,
    TemporarilyUnavailable,
)
from deputy.resource.introspection import Introspection
from deputy.resource.metadata import (
    metadata_path_for,
    metadata_url_for,
    protected_resource_metadata,
)
from deputy.resource.principal import Principal
from deputy.resource.verifier import TokenVerifier

__all__ = [
    "AuthenticationRequired",
    "Credentials",
    "DPoPSettings",
    "InsufficientScope",
    "Introspection",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "MemoryReplayCache",
    "Principal",
    "ReplayCache",
    "ResourceError",
    "TemporarilyUnavailable",
    "TokenVerifier",
    "access_token_hash",
    "challenges",
    "error_body",
    "metadata_path_for",
    "metadata_url_for",
    "protected_resource_metadata",
    "read_credentials",
    "www_authenticate",
]
