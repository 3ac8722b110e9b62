"""The :class:`Principal`: who is calling, as the handler sees it.

RFC 8693 §4.1: the outermost ``act`` is the current actor and nested ones are prior actors, the
least recent most deeply nested. For access control a resource MUST consider only the top-level
claims (``sub``, ``scope``, ``client_id``) and the current actor; prior actors are informational
(for logs and audit), never a reason to allow anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["MAX_CHAIN_DEPTH", "Principal", "read_chain"]

# Deputy refuses chains deeper than 5 by default; anything beyond this is not a real chain.
MAX_CHAIN_DEPTH = 16


def read_chain(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The actors' ``sub`` values from the nested ``act`` claim, current actor first.

    Raises ``ValueError`` when ``act`` is malformed (not an object, no string ``sub``) or
    nested deeper than :data:`MAX_CHAIN_DEPTH`.
    """
    chain: list[str] = []
    act = claims.get("act")
    while act is not None:
        if type(act) is not dict and not isinstance(act, Mapping):  # dict first: the ABC check is slow
            raise ValueError("act is not an object")
        sub = act.get("sub")
        if not isinstance(sub, str) or not sub:
            raise ValueError("act without a string sub")
        chain.append(sub)
        if len(chain) > MAX_CHAIN_DEPTH:
            raise ValueError(f"act nested deeper than {MAX_CHAIN_DEPTH}")
        act = act.get("act")
    return tuple(chain)


# JSON scalars: most claim values, returned as they are without a call or an ABC check (this runs
# on every verified request).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _frozen(value: Any) -> Any:
    """A deep, read-only copy: objects as ``MappingProxyType``, arrays as tuples."""
    if type(value) is dict or isinstance(value, Mapping):  # dict first: the ABC check is slow
        return MappingProxyType({k: v if type(v) in _SCALARS else _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(v if type(v) in _SCALARS else _frozen(v) for v in value)
    return value


def _frozen_in_place(claims: dict[str, Any]) -> Mapping[str, Any]:
    """A read-only view of ``claims``, a dict that no one else holds (the verifier's own parse):
    its nested objects and arrays are replaced by frozen copies, its scalars (most claims) are not
    copied at all."""
    for name, value in claims.items():
        if type(value) not in _SCALARS:
            claims[name] = _frozen(value)  # replaces a value; the dict's size does not change
    return MappingProxyType(claims)


@dataclass(frozen=True)
class Principal:
    """The verified caller of a protected resource.

    ``user`` is the token's ``sub``; ``agent`` the current actor's ``sub`` (None when the token is
    not delegated); ``chain`` every actor, current first; ``prior_actors`` the chain without the
    current actor (informational only, RFC 8693 §4.1). ``is_impersonated`` is True only when the
    authorization server said so through introspection (Deputy's ``deputy_mode``): an
    impersonation token carries no ``act`` and is otherwise indistinguishable from the user's own.
    """

    user: str
    client_id: str
    scopes: frozenset[str]
    chain: tuple[str, ...] = ()
    is_impersonated: bool = False
    introspected: bool = False
    dpop_jkt: str | None = None  # the RFC 7638 thumbprint the token is bound to (RFC 9449 §6)
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    @classmethod
    def from_claims(
        cls, claims: Mapping[str, Any], *, is_impersonated: bool = False, introspected: bool = False
    ) -> Principal:
        """Build from verified claims (``sub``, ``client_id``, ``scope``, ``act``, ``cnf``).

        The claims are copied, deeply and read-only: changing ``claims`` afterwards changes
        nothing here.
        """
        return cls._build(_frozen(claims), read_chain(claims), is_impersonated, introspected)

    @classmethod
    def _from_own_claims(
        cls, claims: dict[str, Any], chain: tuple[str, ...], *, is_impersonated: bool, introspected: bool
    ) -> Principal:
        """:meth:`from_claims` for the verifier, on claims it parsed itself and holds alone, whose
        ``act`` chain it has already read: the claims are frozen in place instead of copied, and
        ``claims`` must not be used afterwards."""
        return cls._build(_frozen_in_place(claims), chain, is_impersonated, introspected)

    @classmethod
    def _build(
        cls, claims: Mapping[str, Any], chain: tuple[str, ...], is_impersonated: bool, introspected: bool
    ) -> Principal:
        """The Principal of read-only ``claims``, without the frozen dataclass's ``__init__``
        (which costs one ``object.__setattr__`` per field, on every verified request): every field
        is set here, at once, and only here."""
        scope = claims.get("scope", "")
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if cnf is not None and isinstance(cnf, Mapping) else None
        principal = object.__new__(cls)
        principal.__dict__.update(
            user=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            chain=chain,
            is_impersonated=is_impersonated,
            introspected=introspected,
            dpop_jkt=jkt if isinstance(jkt, str) else None,
            claims=claims,
        )
        return principal

    @property
    def agent(self) -> str | None:
        """The current actor (outermost ``act.sub``), or None for the user's own token."""
        return self.chain[0] if self.chain else None

    @property
    def prior_actors(self) -> tuple[str, ...]:
        """Earlier actors, most recent first. Informational: never authorise on them."""
        return self.chain[1:]

    @property
    def is_delegated(self) -> bool:
        """An agent acts for the user (the token has ``act``)."""
        return bool(self.chain)

    @property
    def token_id(self) -> str:
        """The token's ``jti``: log this, never the token."""
        return str(self.claims.get("jti", ""))

    @property
    def expires_at(self) -> int:
        return int(self.claims.get("exp", 0))

    def has_scope(self, *scopes: str) -> bool:
        """True when the token carries every one of ``scopes``."""
        return all(s in self.scopes for s in scopes)

    def describe(self) -> str:
        """``jane <- triage-agent <- incident-agent`` (user, then current actor first), for logs."""
        if not self.chain:
            return f"{self.user} (impersonated)" if self.is_impersonated else self.user
        return " <- ".join((self.user, *self.chain))
