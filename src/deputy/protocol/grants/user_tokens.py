"""The tokens a signed-in user's client receives (authorization_code and refresh_token grants).

The access token is the user's own: ``sub`` = the user, ``aud`` = the resource asked for, or the
client itself when none was (so that the client, an agent's front end for instance, can exchange
it later under RFC 8693), ``client_id`` = the client, never ``act``. It is recorded in the
lineage with mode ``user`` and ``grant_ref`` = the consent it was issued under. An ID token goes
with it when ``openid`` was granted; a new refresh token (opaque, stored hashed) always does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from deputy.audit import AuditEvent
from deputy.constants import (
    ID_TOKEN_ALG,
    SUB_PROFILE_USER,
    TOKEN_TYPE_BEARER,
    TYP_ACCESS_TOKEN,
    TYP_ID_TOKEN,
)
from deputy.errors import InvalidGrant
from deputy.policy.delegation import Decision
from deputy.policy.sign_in import OIDC_SCOPES, decide_sign_in
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace, refusal
from deputy.protocol.ports import TokenRecord
from deputy.protocol.sign_in_ports import Consent, ConsentLedger, RefreshToken, opaque_hash
from deputy.protocol.tokens import access_token_claims
from deputy.protocol.tokens.id_token import id_token_claims
from deputy.realm import Agent, Resource, User
from deputy.secret import new_token_id


@dataclass(frozen=True)
class GrantState:
    """What the code or refresh token being redeemed says was granted, checked against now."""

    user: User
    consent: Consent
    resource: Resource | None
    decision: Decision


def current_grant(
    ctx: ServerContext,
    consents: ConsentLedger,
    client: Agent,
    username: str,
    consent_id: str,
    resource_id: str | None,
    scopes: frozenset[str],
) -> GrantState:
    """Authority only shrinks: what was granted ∩ what the user, the client and the resource
    allow today. A withdrawn or expired consent, or a disabled user, ends the grant."""
    now = ctx.clock.now()
    consent = consents.get_consent(consent_id)
    if consent is None or not consent.live(now) or consent.client_id != client.client_id or consent.username != username:
        raise InvalidGrant("grant_withdrawn", f"consent {consent_id} is withdrawn, expired or not this client's")
    user = ctx.realm.get_user(username)
    if user is None or user.disabled:
        raise InvalidGrant("grant_withdrawn", f"user {username} is missing or disabled")
    resource = None
    if resource_id is not None:
        resource = ctx.realm.get_resource(resource_id)
        if resource is None:
            raise InvalidGrant("grant_withdrawn", f"resource {resource_id} no longer exists")
    entitlements = ctx.realm.user_entitlements(username, resource_id) if resource_id else frozenset()
    decision = decide_sign_in(client, user, resource, entitlements, scopes, client_token_ttl=ctx.settings.user_token_ttl)
    if not decision.allowed:
        raise refusal(decision.reasons[0], decision.explanation)
    narrowed = decision.scopes & scopes
    if resource is not None and not (narrowed - OIDC_SCOPES):
        raise refusal("scope_empty", f"nothing of {sorted(scopes)} is still allowed at {resource_id}")
    return GrantState(user, consent, resource, Decision(True, narrowed, decision.ttl, decision.reasons))


def new_refresh_token(
    ctx: ServerContext, client: Agent, grant: GrantState, *, family_id: str, scope: tuple[str, ...],
    auth_time: int, expires_at: int | None = None,
) -> tuple[str, RefreshToken]:
    """A new refresh token value and its stored form. The family keeps its first expiry: rotation
    does not extend a grant beyond ``refresh_token_ttl`` (nor beyond the consent)."""
    now = ctx.clock.now()
    value = "dprt_" + secrets.token_urlsafe(32)
    end = expires_at if expires_at is not None else now + ctx.settings.refresh_token_ttl
    if grant.consent.expires_at is not None:
        end = min(end, grant.consent.expires_at)
    record = RefreshToken(
        token_hash=opaque_hash(value), family_id=family_id, client_id=client.client_id,
        username=grant.user.username, scope=scope, resource=grant.resource.identifier if grant.resource else None,
        consent_id=grant.consent.consent_id, auth_time=auth_time, issued_at=now, expires_at=end,
    )
    return value, record


def issue_user_tokens(
    ctx: ServerContext,
    client: Agent,
    grant: GrantState,
    *,
    grant_type: str,
    jti: str,
    auth_time: int,
    nonce: str | None,
    refresh_token: str,
    client_auth: str,
    trace: Trace,
    extra_data: dict[str, Any] | None = None,
) -> Issued:
    now = ctx.clock.now()
    scopes = grant.decision.scopes
    ttl = grant.decision.ttl
    if grant.consent.expires_at is not None:
        ttl = max(1, min(ttl, grant.consent.expires_at - now))
    audience = grant.resource.identifier if grant.resource is not None else client.client_id
    signing_alg = grant.resource.signing_alg if grant.resource is not None else "ES256"
    claims = access_token_claims(
        issuer=ctx.issuer, subject=grant.user.username, audience=audience, client_id=client.client_id,
        scopes=scopes, jti=jti, now=now, ttl=ttl, extra={"sub_profile": SUB_PROFILE_USER, "auth_time": auth_time},
    )
    ring = ctx.keys.key_ring()
    access_token = ring.sign(claims, typ=TYP_ACCESS_TOKEN, alg=signing_alg)
    granted = tuple(sorted(scopes))
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": TOKEN_TYPE_BEARER,
        "expires_in": ttl,
        "scope": " ".join(granted),
        "refresh_token": refresh_token,
    }
    if "openid" in scopes:
        id_claims = id_token_claims(
            issuer=ctx.issuer, subject=grant.user.username, client_id=client.client_id, now=now,
            ttl=ctx.settings.user_token_ttl, auth_time=auth_time, jti=new_token_id(), nonce=nonce,
            access_token=access_token,
        )
        body["id_token"] = ring.sign(id_claims, typ=TYP_ID_TOKEN, alg=ID_TOKEN_ALG)
    trace.audience = (audience,)
    record = TokenRecord(
        jti=jti, subject=grant.user.username, client_id=client.client_id, grant_type=grant_type, mode="user",
        issued_at=now, expires_at=now + ttl, audience=(audience,), scope=granted, grant_ref=grant.consent.consent_id,
    )
    event = AuditEvent(
        type="token.issued", client_id=client.client_id, subject=grant.user.username, audience=(audience,),
        grant_type=grant_type, scope_requested=trace.scope_requested, scope_granted=granted, mode="user", jti=jti,
        data={
            "client_auth": client_auth, "consent_id": grant.consent.consent_id,
            "id_token": "id_token" in body, **(extra_data or {}),
        },
    )
    return Issued(body, record, event)
