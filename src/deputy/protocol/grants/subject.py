"""A verified subject token, reduced to what a token exchange decides on, whoever issued it, and
the reader of Deputy's own subject tokens (token exchange and Entra-style on-behalf-of)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deputy.errors import InvalidRequest
from deputy.jose import JWTInvalid
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Trace
from deputy.protocol.tokens import OwnToken, TokenInactive, read_own_token
from deputy.realm import Agent, User


@dataclass(frozen=True)
class Subject:
    user: User
    expires_at: int
    # The Deputy token it was read from (the lineage parent); None for an external issuer's token.
    parent_jti: str | None = None
    act: Mapping[str, Any] | None = None  # the prior chain, nested inside the new actor
    # Issued by an exchange (so its own scopes bound what can be delegated further).
    downstream: bool = False
    scopes: frozenset[str] | None = None
    may_act: object = None  # the raw claim, for the decision; None when absent or already checked
    audit: Mapping[str, Any] = field(default_factory=dict)  # extra data for the token.issued event


def read_own(token: str, ctx: ServerContext, invalid_reason: str, *, parent: bool = False) -> OwnToken:
    """RFC 8693 §2.2.2: an invalid or unacceptable subject/actor token is ``invalid_request``.
    ``parent``: the token becomes the new token's lineage parent, whose revocation the issuance
    re-checks when it commits, so its lineage may be read from the recent-lineage cache."""
    try:
        return read_own_token(token, ctx, recent_lineage=parent)
    except JWTInvalid as exc:
        raise InvalidRequest(invalid_reason, str(exc)) from None
    except TokenInactive as exc:
        reason = exc.reason if invalid_reason == "subject_token_invalid" else "actor_token_invalid"
        raise InvalidRequest(reason, exc.detail) from None


def read_own_subject(token: str, agent: Agent, ctx: ServerContext, trace: Trace) -> Subject:
    """A live Deputy access token for a user, issued to ``agent`` (its ``aud`` names the agent)."""
    subject = read_own(token, ctx, "subject_token_invalid", parent=True)
    trace.subject = subject.record.subject
    trace.parent_jti = subject.jti
    # Confused deputy (RFC 8693 §2.1, Keycloak #11542): a client may only exchange a token
    # that was issued to it, i.e. whose audience names this agent.
    if not (subject.audiences & agent.identifiers):
        raise InvalidRequest(
            "subject_token_not_for_client",
            f"subject token aud {sorted(subject.audiences)} does not name {agent.client_id}",
        )
    if subject.record.mode == "client":
        raise InvalidRequest("subject_not_user", f"subject {subject.record.subject} is a client")
    user = ctx.realm.get_user(subject.record.subject)
    if user is None:
        raise InvalidRequest("subject_user_unknown", f"user {subject.record.subject} not found")
    return Subject(
        user=user, expires_at=int(subject.claims["exp"]), parent_jti=subject.jti, act=subject.act,
        downstream=subject.is_downstream, scopes=subject.scopes, may_act=subject.claims.get("may_act"),
    )
