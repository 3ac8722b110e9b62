"""Reading a token Deputy issued: signature, type, issuer, expiry, then its lineage and liveness.

A token is live only if it, and every token it was exchanged from, is unrevoked and unexpired,
every agent that acted in it is active, and its user still exists and is enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deputy.constants import ISSUING_ALGORITHMS, TYP_ACCESS_TOKEN
from deputy.jose import JWTInvalid, verify_jwt
from deputy.protocol.context import ServerContext
from deputy.protocol.ports import TokenRecord
from deputy.realm import AgentStatus


class TokenInactive(Exception):
    """The token is genuine but no longer usable. ``reason`` is a PUBLIC_TEXT key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class OwnToken:
    claims: Mapping[str, Any]
    record: TokenRecord
    ancestry: tuple[TokenRecord, ...]  # parent first, up to the root

    @property
    def jti(self) -> str:
        return self.record.jti

    @property
    def act(self) -> Mapping[str, Any] | None:
        act = self.claims.get("act")
        return act if isinstance(act, Mapping) else None

    @property
    def is_downstream(self) -> bool:
        """Issued by an exchange (delegated or impersonated) rather than to the user directly."""
        return self.record.mode in ("delegation", "impersonation")

    @property
    def scopes(self) -> frozenset[str] | None:
        raw = self.claims.get("scope")
        return frozenset(raw.split()) if isinstance(raw, str) else None

    @property
    def audiences(self) -> frozenset[str]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return frozenset({aud})
        return frozenset(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else frozenset()


def read_own_token(
    token: str, ctx: ServerContext, *, check_expiry: bool = True, recent_lineage: bool = False
) -> OwnToken:
    """Raise :class:`JWTInvalid` for a token that is not genuinely ours, :class:`TokenInactive`
    for one that is ours but no longer live.

    ``recent_lineage``: the lineage may come from a read up to about a second old. Only for a
    token about to become the parent of a new one: the new token's durable write re-checks the
    parent's revocation inside its transaction (``TokenLedger.record_issuance``)."""
    now = ctx.clock.now()
    ring = ctx.keys.key_ring()
    verified = verify_jwt(
        token, ring.verification_keys, algorithms=ISSUING_ALGORITHMS, now=now, typ=TYP_ACCESS_TOKEN,
        issuer=ctx.issuer, required=("exp", "iat", "sub", "jti", "client_id"),
        leeway=0 if check_expiry else 10**9,
    )
    jti = verified.claims["jti"]
    lineage = ctx.tokens.ancestry(str(jti), recent=recent_lineage)
    if not lineage:
        raise JWTInvalid(f"no lineage record for jti {jti!r}")
    record, ancestors = lineage[0], tuple(lineage[1:])
    if record.subject != verified.claims["sub"] or record.client_id != verified.claims["client_id"]:
        raise JWTInvalid(f"token {jti!r} does not match its lineage record")
    for item in lineage:
        if item.revoked_at is not None:
            which = "token" if item is record else f"ancestor {item.jti}"
            raise TokenInactive("subject_token_revoked", f"{which} revoked ({item.revoked_reason})")
        if check_expiry and item.expires_at <= now:
            which = "token" if item is record else f"ancestor {item.jti}"
            raise TokenInactive("subject_token_revoked", f"{which} expired")
    actors = {a for item in lineage for a in item.actors}
    # The client of a client-credentials or impersonation token acted too, though not in `act`.
    actors |= {item.client_id for item in lineage if item.mode in ("client", "impersonation")}
    for agent_id in sorted(actors):
        agent = ctx.realm.get_agent(agent_id)
        if agent is None or agent.status is not AgentStatus.ACTIVE:
            status = "deleted" if agent is None else agent.status.value
            raise TokenInactive("chain_actor_not_active", f"actor {agent_id} is {status}")
    if record.mode != "client":
        user = ctx.realm.get_user(record.subject)
        if user is None or user.disabled:
            raise TokenInactive("subject_user_unknown", f"user {record.subject} is missing or disabled")
    return OwnToken(verified.claims, record, ancestors)
