"""Claims of the JWT access tokens Deputy issues (RFC 9068 §2.2, RFC 8693 §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from deputy.constants import SUB_PROFILE_AGENT


def build_act(actor: str, issuer: str, prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """The new ``act``: the current actor outermost, the prior chain nested inside (§4.1).

    Only identity claims are carried over: ``exp``/``nbf``/``aud`` mean nothing inside ``act``.
    """
    act: dict[str, Any] = {"sub": actor, "iss": issuer, "sub_profile": SUB_PROFILE_AGENT}
    if prior is not None:
        act["act"] = _identity_only(prior)
    return act


def _identity_only(act: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in act.items() if k in ("sub", "iss", "sub_profile", "client_id")}
    nested = act.get("act")
    if isinstance(nested, Mapping):
        out["act"] = _identity_only(nested)
    return out


def act_chain(act: Mapping[str, Any] | None) -> list[str]:
    """The actors named in an ``act`` claim, current actor first."""
    chain: list[str] = []
    current: Any = act
    while isinstance(current, Mapping):
        sub = current.get("sub")
        chain.append(sub if isinstance(sub, str) else "?")
        current = current.get("act")
    return chain


def act_depth(act: Mapping[str, Any] | None) -> int:
    return len(act_chain(act))


def access_token_claims(
    *,
    issuer: str,
    subject: str,
    audience: str | Iterable[str],
    client_id: str,
    scopes: Iterable[str],
    jti: str,
    now: int,
    ttl: int,
    act: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    aud: str | list[str] = audience if isinstance(audience, str) else list(audience)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": aud,
        "exp": now + ttl,
        "iat": now,
        "nbf": now,
        "jti": jti,
        "client_id": client_id,
        "scope": " ".join(sorted(scopes)),
    }
    if act is not None:
        claims["act"] = dict(act)
    if extra:
        claims.update(extra)
    return claims
