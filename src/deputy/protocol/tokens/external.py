"""Reading a token a trusted external issuer signed (an Entra, Okta or Keycloak access or ID token).

The checks are those of RFC 9068 §4 and OIDC Core §3.1.3.7 that do not depend on who asks:
signature with the issuer's published keys, the issuer's algorithm allow-list (never ``none`` or
HMAC), its accepted ``typ`` values, the exact ``iss``, and ``exp``/``nbf``/``iat`` with leeway.
Whether the token is *for this agent* (``aud``) is the exchange's question, not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deputy.jose import KeySet, verify_jwt
from deputy.realm import TrustedIssuer


@dataclass(frozen=True)
class ExternalToken:
    issuer: TrustedIssuer
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def audiences(self) -> frozenset[str]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return frozenset({aud})
        return frozenset(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else frozenset()

    @property
    def subject(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def jti(self) -> str | None:
        jti = self.claims.get("jti") or self.claims.get("uti")  # Entra names it "uti"
        return jti if isinstance(jti, str) else None

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])

    def claim_text(self, name: str) -> str | None:
        """A claim that must be a non-empty string (the user claim, ``email``, ``name``)."""
        value = self.claims.get(name)
        return value if isinstance(value, str) and value else None

    def groups(self) -> tuple[str, ...]:
        """The values of the issuer's groups claim: a list of strings, or one string."""
        if not self.issuer.groups_claim:
            return ()
        raw = self.claims.get(self.issuer.groups_claim)
        if isinstance(raw, str):
            return (raw,)
        if isinstance(raw, list):
            return tuple(g for g in raw if isinstance(g, str))
        return ()


def read_external_token(token: str, issuer: TrustedIssuer, keys: KeySet, *, now: int, leeway: int) -> ExternalToken:
    """Raise :class:`deputy.jose.JWTInvalid` unless ``token`` is genuinely ``issuer``'s and live."""
    verified = verify_jwt(
        token, keys, algorithms=issuer.algorithms, now=now, typ=issuer.token_types, issuer=issuer.issuer,
        required=("iss", "exp"), leeway=leeway,
    )
    return ExternalToken(issuer, verified.header, verified.claims)
