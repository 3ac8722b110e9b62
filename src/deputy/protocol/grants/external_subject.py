"""Subject tokens from trusted external issuers in token exchange (docs/trusted-issuers.md).

A subject token whose unverified ``iss`` is not Deputy's own must come from a configured trusted
issuer; it is then verified with that issuer's published keys (:mod:`deputy.protocol.tokens.external`),
must name *this agent* in ``aud`` as configured for that issuer (the confused-deputy check of
RFC 8693 §2.1, pitfall 3), and must name a Deputy user in the configured claim, who is created
on first sight when the issuer provisions users.

External tokens carry no Deputy lineage, so a foreign ``act`` chain can be neither verified nor
kept alive by Deputy's revocation: a token with ``act`` is refused rather than re-rooted (which
would erase the chain, pitfall 4). ``may_act`` is honoured: it must name this agent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from deputy.audit import AuditEvent
from deputy.errors import InvalidRequest
from deputy.jose import JWTInvalid, peek_claims
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Trace
from deputy.protocol.grants.subject import Subject
from deputy.protocol.ports import Federation, KeysUnavailable
from deputy.protocol.tokens.external import ExternalToken, read_external_token
from deputy.realm import Agent, TrustedIssuer, User

# The rule deputy.admin.schema applies to every username, so a provisioned user can be managed.
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
# Claims in which issuers name the client a token was issued to (Entra v1 "appid", Okta "cid").
_CLIENT_CLAIMS = ("client_id", "azp", "appid", "cid")
_AUDIT_TEXT = 200


def _short(value: str) -> str:
    return value if len(value) <= _AUDIT_TEXT else value[:_AUDIT_TEXT] + "..."


def claimed_issuer(token: str) -> str | None:
    """The token's ``iss``, UNVERIFIED, to choose how to verify it; None if it cannot be read."""
    try:
        _, claims = peek_claims(token)
    except JWTInvalid:
        return None
    iss = claims.get("iss")
    return iss if isinstance(iss, str) else None


def read_external_subject(token: str, agent: Agent, ctx: ServerContext, trace: Trace) -> Subject:
    """Verify a subject token from a trusted issuer and map it to a Deputy user, or refuse it
    with ``invalid_request`` (RFC 8693 §2.2.2)."""
    header, claims = peek_claims(token)
    iss = str(claims.get("iss"))
    trace.data["subject_issuer"] = _short(iss)
    federation = ctx.federation
    trusted = federation.issuers.get_trusted_issuer(iss) if federation is not None else None
    if federation is None or trusted is None:
        raise InvalidRequest("subject_token_invalid", f"issuer {_short(iss)!r} is not trusted")
    kid = header.get("kid")
    try:
        keys = federation.keys.keys_for(trusted, kid if isinstance(kid, str) else None)
    except KeysUnavailable as exc:
        raise InvalidRequest("issuer_unavailable", f"keys of {iss}: {exc}") from None
    try:
        external = read_external_token(token, trusted, keys, now=ctx.clock.now(), leeway=ctx.settings.clock_leeway)
    except JWTInvalid as exc:
        raise InvalidRequest("subject_token_invalid", f"{iss}: {exc}") from None
    audit: dict[str, Any] = {"subject_issuer": iss, "subject_sub": external.subject, "subject_jti": external.jti}
    trace.data.update(audit)

    accepted = trusted.audiences_for(agent.client_id)
    if not external.audiences & accepted:
        raise InvalidRequest(
            "subject_token_not_for_client",
            f"aud {sorted(external.audiences)} names none of {sorted(accepted)}, "
            f"the audiences of {agent.client_id} at {iss}",
        )
    _check_delegation_claims(external, agent, ctx.issuer)
    check_names_a_user(external)
    user = map_user(external, agent, ctx, federation, trace)
    return Subject(user=user, expires_at=external.expires_at, audit=audit)


def _check_delegation_claims(external: ExternalToken, agent: Agent, own_issuer: str) -> None:
    if "act" in external.claims:
        raise InvalidRequest(
            "subject_token_delegated",
            f"token from {external.issuer.issuer} carries act {external.claims['act']!r}: "
            "an external chain can be neither verified nor nested",
        )
    may_act = external.claims.get("may_act")
    if may_act is None:
        return
    # Fail closed: a malformed may_act must not read as "no restriction".
    if not isinstance(may_act, Mapping) or not _may_act_names(may_act, agent, external.issuer, own_issuer):
        raise InvalidRequest("may_act_mismatch", f"may_act {may_act!r} does not name {agent.client_id}")


def _may_act_names(may_act: Mapping[str, Any], agent: Agent, trusted: TrustedIssuer, own_issuer: str) -> bool:
    """RFC 8693 §4.4. Without ``iss`` the actor is named as the token's issuer knows it, i.e. by
    one of the audiences configured for the agent there; with Deputy's issuer, by its client_id."""
    sub, iss = may_act.get("sub"), may_act.get("iss", trusted.issuer)
    if iss == own_issuer:
        return sub == agent.client_id
    return iss == trusted.issuer and isinstance(sub, str) and sub in trusted.audiences_for(agent.client_id)


def check_names_a_user(external: ExternalToken) -> None:
    """An application's own token (client credentials at the IdP) names no user."""
    claims = external.claims
    sub = external.subject
    if claims.get("idtyp") == "app" or (sub is not None and any(claims.get(c) == sub for c in _CLIENT_CLAIMS)):
        raise InvalidRequest("subject_not_user", f"token from {external.issuer.issuer} identifies an application")


def map_user(external: ExternalToken, agent: Agent, ctx: ServerContext, federation: Federation, trace: Trace) -> User:
    """The Deputy user the issuer's ``user_claim`` names, provisioned if the issuer may (or refuse)."""
    trusted = external.issuer
    claim = trusted.user_claim
    name = external.claim_text(claim)
    if name is None:
        raise InvalidRequest("subject_token_invalid", f"claim {claim!r} is missing or not a string")
    user = ctx.realm.get_user(name)
    if user is None:
        trace.data["subject_user"] = _short(name)
        if not trusted.provision:
            raise InvalidRequest("subject_user_unknown", f"no user {_short(name)!r} ({claim} at {trusted.issuer})")
        if not USERNAME.match(name):
            raise InvalidRequest("subject_user_unknown", f"{claim} {_short(name)!r} cannot name a Deputy user")
        user = federation.users.provision_user(*_new_user(external, name, agent))
    trace.subject = user.username
    return user


def _new_user(external: ExternalToken, username: str, agent: Agent) -> tuple[User, AuditEvent]:
    """The user as first seen: groups mapped through the issuer's group_map (others ignored)."""
    trusted = external.issuer
    mapping = dict(trusted.group_map)
    groups = tuple(dict.fromkeys(mapping[g] for g in external.groups() if g in mapping))
    email = external.claim_text("email") or ""
    user = User(
        username=username,
        display_name=(external.claim_text("name") or "")[:200],
        email=email if "@" in email and len(email) <= 320 else "",
        groups=groups,
    )
    event = AuditEvent(
        type="user.provisioned", client_id=agent.client_id, subject=username,
        data={"issuer": trusted.issuer, "user_claim": trusted.user_claim, "subject_sub": external.subject,
              "groups": list(groups)},
    )
    return user, event
