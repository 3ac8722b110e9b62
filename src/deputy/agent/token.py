"""Tokens held by the agent SDK: values that never show themselves in reprs, logs or errors."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace

__all__ = ["Token", "UserToken"]


@dataclass(frozen=True)
class Token:
    """A downstream token from a credential provider.

    ``value`` is excluded from ``repr`` and equality; use it only to build the ``Authorization``
    header. ``expires_at`` is in seconds since the epoch (from ``expires_in``, or the vault's
    default lifetime when the server gave none).
    """

    value: str = field(repr=False, compare=False)
    token_type: str
    expires_at: int
    scopes: frozenset[str] = frozenset()
    issued_token_type: str | None = None
    fingerprint: str = field(default="", compare=True)
    refresh_token: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.value))

    def capped(self, expires_at: int | None) -> Token:
        """This token, reused no longer than ``expires_at`` (the user token it came from)."""
        if expires_at is None or expires_at >= self.expires_at:
            return self
        return replace(self, expires_at=expires_at)

    def authorization(self) -> str:
        """The ``Authorization`` header value (``Bearer <token>``)."""
        scheme = "Bearer" if self.token_type.lower() in ("bearer", "n_a") else self.token_type
        return f"{scheme} {self.value}"

    def __str__(self) -> str:
        return repr(self)


@dataclass(frozen=True)
class UserToken:
    """The inbound user token for the current request.

    ``issuer`` and ``subject`` are set only when the token was verified (by
    :class:`deputy.agent.InboundAuthorizer` or a caller who verified it): the vault then shares
    downstream tokens across the user's inbound tokens. An unverified token is keyed by its own
    fingerprint, so a forged token naming someone else's ``sub`` never reaches their tokens.
    """

    value: str = field(repr=False)
    issuer: str | None = None
    subject: str | None = None
    token_type: str = "urn:ietf:params:oauth:token-type:access_token"

    @property
    def expires_at(self) -> int | None:
        """The user token's ``exp`` if it is a JWT that has one (read, not verified: used only to
        shorten how long tokens derived from it are reused)."""
        parts = self.value.split(".")
        if len(parts) != 3:
            return None
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            exp = json.loads(base64.urlsafe_b64decode(padded)).get("exp")
        except (ValueError, AttributeError):
            return None
        return exp if isinstance(exp, int) and not isinstance(exp, bool) else None

    @property
    def identity(self) -> tuple[str, str]:
        """The vault's key for this user: (iss, sub) when verified, else the token's fingerprint."""
        if self.issuer is not None and self.subject is not None:
            return (self.issuer, self.subject)
        return ("unverified", fingerprint(self.value))

    def __str__(self) -> str:
        return repr(self)


def fingerprint(value: str) -> str:
    """A short SHA-256 of a token, safe to log: tells tokens apart without revealing them."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]
