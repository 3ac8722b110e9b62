"""The resource SDK's errors: what a protected API answers when a request is not authorised.

Each class fixes the RFC 6750 §3.1 ``error`` code (RFC 9449 §7.1 adds ``invalid_dpop_proof``),
the HTTP status and a fixed ASCII public description. The ``detail`` given when raising is
private: it goes to logs, never to the client. Rendering (the ``WWW-Authenticate`` challenge and
the JSON body) happens in one place, :mod:`deputy.resource.challenge`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final

__all__ = [
    "BEARER",
    "DPOP",
    "AuthenticationRequired",
    "InsufficientScope",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "ResourceError",
    "TemporarilyUnavailable",
]

BEARER: Final = "Bearer"  # RFC 6750
DPOP: Final = "DPoP"  # RFC 9449


class ResourceError(Exception):
    """Base of every refusal a protected resource renders.

    ``scheme`` is the authentication scheme the challenge must use (``DPoP`` when the client must
    present a DPoP proof, e.g. a DPoP-bound token sent as Bearer); ``scopes`` are the scopes the
    request needed, for the challenge's ``scope`` parameter.
    """

    error: ClassVar[str | None] = None
    status_code: ClassVar[int] = 401
    description: ClassVar[str] = "The request is not authorized."

    def __init__(self, detail: str = "", *, scheme: str = BEARER, scopes: Iterable[str] = ()) -> None:
        self.detail = detail
        self.scheme = scheme
        self.scopes = tuple(scopes)
        label = self.error or "unauthorized"
        super().__init__(f"{label}: {detail}" if detail else label)


class AuthenticationRequired(ResourceError):
    """RFC 6750 §3.1: the request carries no access token, so the challenge has no error code."""

    description = "An access token is required."


class InvalidRequest(ResourceError):
    """RFC 6750 §3.1: a malformed request (e.g. more than one Authorization header)."""

    error = "invalid_request"
    status_code = 400
    description = "The request is malformed."


class InvalidToken(ResourceError):
    """RFC 6750 §3.1 / RFC 9068 §4: expired, revoked, malformed, or not for this resource."""

    error = "invalid_token"
    status_code = 401
    description = "The access token is invalid."


class InsufficientScope(ResourceError):
    """RFC 6750 §3.1: the token is valid but lacks a scope the request needs."""

    error = "insufficient_scope"
    status_code = 403
    description = "The access token does not carry the required scope."


class InvalidDPoPProof(ResourceError):
    """RFC 9449 §7.1: the DPoP proof is missing, malformed, replayed or does not match."""

    error = "invalid_dpop_proof"
    status_code = 401
    description = "The DPoP proof is invalid."

    def __init__(self, detail: str = "", *, scheme: str = DPOP, scopes: Iterable[str] = ()) -> None:
        super().__init__(detail, scheme=scheme, scopes=scopes)


class TemporarilyUnavailable(ResourceError):
    """The authorization server's keys or introspection endpoint could not be reached.

    Not an RFC 6750 code: it is answered 503 without a challenge, so that clients do not throw
    away a token that may well be valid.
    """

    error = "temporarily_unavailable"
    status_code = 503
    description = "The authorization server could not be reached."
