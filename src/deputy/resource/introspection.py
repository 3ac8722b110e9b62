"""Token introspection (RFC 7662) for revocation-sensitive calls, without I/O.

A JWT access token stays valid until it expires; asking the authorization server is how a
resource learns at once that it was revoked (Deputy's revocation cascades to every token
exchanged from a revoked one). The resource authenticates as a client (``client_secret_basic``).
``active: false`` is ``invalid_token``. Deputy also reports ``deputy_mode``, which tells an
impersonation token (no ``act``) from the user's own.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx

from deputy.resource.errors import InvalidToken
from deputy.resource.fetch import check_url, form_request
from deputy.secret import Secret

__all__ = ["Introspection", "IntrospectionResult", "read_introspection"]


@dataclass(frozen=True)
class Introspection:
    """Credentials of this resource at the authorization server, and where to introspect.

    ``endpoint`` None: the ``introspection_endpoint`` of the issuer's RFC 8414 metadata.
    """

    client_id: str
    client_secret: Secret | str = field(repr=False)  # a str is wrapped in a Secret
    endpoint: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.client_secret, str):  # accept a plain string, keep it wrapped
            object.__setattr__(self, "client_secret", Secret(self.client_secret))
        if not self.client_id:
            raise ValueError("introspection needs a client_id")
        if self.endpoint is not None and (problem := check_url(self.endpoint)) is not None:
            raise ValueError(f"introspection endpoint {problem}")

    def request(self, endpoint: str, token: str, *, timeout: float) -> httpx.Request:
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        secret = self.client_secret.reveal() if isinstance(self.client_secret, Secret) else self.client_secret
        pair = f"{quote_plus(self.client_id)}:{quote_plus(secret)}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        return form_request(
            endpoint,
            {"token": token, "token_type_hint": "access_token"},
            {"Authorization": f"Basic {basic}"},
            timeout=timeout,
        )


@dataclass(frozen=True)
class IntrospectionResult:
    active: bool
    mode: str | None = None  # Deputy's deputy_mode: user | delegation | impersonation | client
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_impersonated(self) -> bool:
        return self.mode == "impersonation"


def read_introspection(body: Mapping[str, Any], claims: Mapping[str, Any]) -> IntrospectionResult:
    """Read the answer about the token whose verified claims are ``claims``.

    Raises :class:`InvalidToken` when the token is not active, or when the answer describes a
    different token (``jti`` or ``sub`` disagree): never trust an answer about something else.
    """
    active = body.get("active")
    if active is not True:
        raise InvalidToken("introspection: the token is not active" if active is False else "introspection: no active member")
    for name in ("jti", "sub", "client_id"):
        if name in body and body[name] != claims.get(name):
            raise InvalidToken(f"introspection: {name} {body[name]!r} differs from the token's")
    mode = body.get("deputy_mode")
    return IntrospectionResult(active=True, mode=mode if isinstance(mode, str) else None, body=dict(body))
