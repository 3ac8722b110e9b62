"""Entra ID v2 access tokens at the inbound authorizer: opt-in, never the default.

Entra's v2 tokens are not RFC 9068: the header says ``typ: JWT`` (not ``at+jwt``), the claims
carry ``ver: "2.0"``, ``aud`` = the app's client id (a GUID) or its App ID URI, ``azp`` = the
client the token was issued to (no ``client_id``), ``scp`` = the delegated scopes
(space-separated) or ``roles`` = the application permissions, ``tid`` = the tenant, ``uti``
instead of ``jti``, and ``iss`` = ``https://login.microsoftonline.com/{tid}/v2.0``.

``typ: JWT`` is also what ID tokens carry, so accepting it must not let an ID token pass as an
access token (a client's ID token has ``aud`` = that client, which may well be this app). The
rule, every part required:

- ``ver`` is ``"2.0"``, ``iss`` is this tenant's v2 issuer and ``tid`` this tenant;
- ``aud`` is this app (one verifier per accepted audience), signature by the tenant's keys;
- ``azp`` names the client (ID tokens have none), and none of the ID token's own claims
  ``nonce``, ``at_hash``, ``c_hash`` is present;
- a delegated token has a non-empty ``scp`` (ID tokens never do); an app-only token (``roles``,
  no ``scp``) is accepted only with ``accept_app_tokens=True`` **and** ``idtyp: "app"`` (Entra's
  optional claim, which must then be enabled for the app): ID tokens can carry ``roles`` too.

The verified claims are mapped for :class:`~deputy.resource.Principal`: ``client_id`` = ``azp``,
``scope`` = ``scp`` (roles are not scopes: read them from ``principal.claims["roles"]``),
``jti`` = ``uti``; the originals stay in ``principal.claims``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from deputy.resource.verifier import TokenVerifier

__all__ = ["ENTRA_AUTHORITY", "EntraTokenVerifier", "entra_issuer"]

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
REQUIRED = ("iss", "aud", "sub", "exp", "iat", "azp", "tid", "ver")
ID_TOKEN_ONLY = ("nonce", "at_hash", "c_hash")


def entra_issuer(tenant_id: str, authority: str = ENTRA_AUTHORITY) -> str:
    """The v2 issuer of a tenant: ``https://login.microsoftonline.com/{tid}/v2.0``."""
    return f"{authority.rstrip('/')}/{tenant_id}/v2.0"


class EntraTokenVerifier(TokenVerifier):
    """Verifies Entra v2 access tokens for one app (``audience``: its client id or App ID URI)
    of one tenant. Keys come from the tenant's OpenID configuration
    (``{issuer}/.well-known/openid-configuration``); other options as :class:`TokenVerifier`."""

    token_types: ClassVar[str | tuple[str, ...]] = ("JWT",)
    required_claims: ClassVar[tuple[str, ...]] = REQUIRED

    def __init__(
        self,
        tenant_id: str,
        audience: str,
        *,
        authority: str = ENTRA_AUTHORITY,
        accept_app_tokens: bool = False,
        algorithms: Sequence[str] = ("RS256",),
        **options: Any,
    ) -> None:
        if not tenant_id or "/" in tenant_id or tenant_id in ("common", "organizations", "consumers"):
            raise ValueError("tenant_id must be one tenant's id (one verifier per tenant), not a multi-tenant alias")
        issuer = entra_issuer(tenant_id, authority)
        if "jwks_uri" not in options:
            options.setdefault("discovery_url", issuer + "/.well-known/openid-configuration")
        super().__init__(issuer, audience, algorithms=algorithms, **options)
        self.tenant_id = tenant_id
        self.accept_app_tokens = accept_app_tokens

    def __repr__(self) -> str:
        return f"EntraTokenVerifier(tenant_id={self.tenant_id!r}, audience={self.audience!r})"

    def _accept_claims(self, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        problem = self._refusal(claims)
        if problem is not None:
            raise ValueError(problem)
        return {**claims, "client_id": claims["azp"], "scope": claims.get("scp", ""),
                "jti": claims.get("jti") or claims.get("uti") or ""}

    def _refusal(self, claims: Mapping[str, Any]) -> str | None:
        """Why these (signature-checked) claims are not an Entra v2 access token for us, or None."""
        if claims["ver"] != "2.0":
            return f"Entra token version {claims['ver']!r}, not 2.0"
        if claims["tid"] != self.tenant_id:
            return "token of another tenant"
        for name in ("sub", "azp"):
            if not isinstance(claims[name], str) or not claims[name]:
                return f"claim {name!r} is not a non-empty string"
        found = [name for name in ID_TOKEN_ONLY if name in claims]
        if found:
            return f"an ID token (it has {found}), not an access token"
        scp = claims.get("scp")
        if scp is not None:
            if not isinstance(scp, str) or not scp.strip():
                return "claim 'scp' is not a non-empty space-separated string"
            return None
        roles = claims.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            return "neither delegated scopes (scp) nor application roles: not an access token"
        if not self.accept_app_tokens:
            return "an app-only token (roles, no scp): not accepted here"
        if claims.get("idtyp") != "app":
            return "an app-only token needs idtyp 'app' (enable Entra's idtyp optional claim)"
        return None
