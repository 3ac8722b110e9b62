"""ID-JAG issuance: Deputy as the enterprise IdP in cross-app access (Okta's "XAA";
draft-ietf-oauth-identity-assertion-authz-grant, step 1, SPECS.md §3).

An agent exchanges the user's identity assertion (``subject_token_type`` ``…:id_token``, or a
Deputy ``…:refresh_token``) with ``requested_token_type=urn:ietf:params:oauth:token-type:id-jag``
and ``audience`` = the issuer of a *partner authorization server* (another domain's AS,
configured in Deputy with the agent's client_id there). It receives an ID-JAG, which it redeems
at that server with the jwt-bearer grant (step 2).

Checks: the subject assertion was issued to *this* client (its ``aud``; the confused-deputy rule
the draft makes a MUST), it is live, its user is enabled and may be acted for by this agent, the
partner is configured and knows this agent, a ``resource`` is one the partner lists, and the
scopes are narrowed to the partner's. The ID-JAG lives five minutes at most, never longer than
the assertion it came from; the response has ``token_type=N_A`` and never a refresh token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deputy.audit import AuditEvent
from deputy.constants import (
    GRANT_TOKEN_EXCHANGE,
    ISSUING_ALGORITHMS,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_NA,
    TOKEN_TYPE_REFRESH_TOKEN,
    TYP_ID_JAG,
    TYP_ID_TOKEN,
)
from deputy.errors import InvalidRequest, InvalidScope, InvalidTarget
from deputy.jose import JWTInvalid, verify_jwt
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.external_subject import claimed_issuer, read_external_subject
from deputy.protocol.ports import TokenRecord
from deputy.protocol.request import FormRequest
from deputy.protocol.sign_in_ports import opaque_hash
from deputy.protocol.tokens import build_act
from deputy.protocol.tokens.id_jag import id_jag_claims
from deputy.realm import Agent, User
from deputy.secret import new_token_id

ID_JAG_TTL = 300  # seconds: an ID-JAG is a short-lived grant, redeemed at once
MODE = "id_jag"  # the lineage mode of an issued ID-JAG (it is not an access token)


@dataclass(frozen=True)
class _Assertion:
    """The user's identity assertion, verified: whose it is and how long it stays good."""

    user: User
    expires_at: int
    auth_time: int | None = None
    grant_ref: str | None = None  # the consent a refresh token was issued under
    audit: dict[str, Any] = field(default_factory=dict)


def issue_id_jag(
    request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace,
    subject_token: str, subject_token_type: str, scopes: frozenset[str] | None,
) -> Issued:
    agent = client.agent
    trace.mode = MODE
    trace.data["dialect"] = "id_jag"
    chaining = ctx.chaining
    if chaining is None:
        raise InvalidRequest("requested_token_type_unsupported", "ID-JAGs are not issued by this server")
    # §4.3: audience is REQUIRED and names one authorization server (its issuer identifier).
    audiences = request.many("audience")
    trace.audience = audiences
    if not audiences:
        raise InvalidRequest("target_missing", "an ID-JAG request needs audience = the authorization server's issuer")
    if len(audiences) > 1:
        raise InvalidTarget("target_multiple", f"audiences {list(audiences)}")
    partner = chaining.partners.get_partner(audiences[0])
    if partner is None:
        raise InvalidTarget("target_unknown", f"no partner authorization server {audiences[0]!r}")
    remote_client_id = partner.client_id_for(agent.client_id)
    if remote_client_id is None:
        raise InvalidTarget("target_not_allowed", f"{agent.client_id} has no client_id at {partner.issuer}")
    resources = request.many("resource")  # absolute URIs: checked by requested_targets already
    unlisted = [r for r in resources if r not in partner.resources]
    if unlisted:
        raise InvalidTarget("target_not_allowed", f"resource {unlisted} is not listed for {partner.issuer}")

    assertion = _read_assertion(subject_token, subject_token_type, agent, ctx, trace)
    user = assertion.user
    trace.subject = user.username
    trace.actor_chain = (agent.client_id,)
    if user.disabled:
        raise InvalidRequest("subject_user_unknown", f"user {user.username} is disabled")
    if not agent.may_act_for(user):
        raise InvalidRequest(
            "subject_not_delegated", f"agent {agent.client_id} may not act for {user.username} (groups {list(user.groups)})"
        )
    granted: frozenset[str] | None = None
    if scopes is not None:
        # The IdP may grant a subset; what it grants is written into the ID-JAG (§4.3).
        granted = scopes & frozenset(partner.scopes)
        if not granted:
            raise InvalidScope("scope_empty", f"requested {sorted(scopes)}, {partner.issuer} allows {list(partner.scopes)}")

    now = ctx.clock.now()
    ttl = min(ID_JAG_TTL, max(assertion.expires_at - now, 1))
    jti = new_token_id()
    claims = id_jag_claims(
        issuer=ctx.issuer, subject=user.username, audience=partner.issuer, client_id=remote_client_id, jti=jti,
        now=now, ttl=ttl, resources=resources, scopes=granted, auth_time=assertion.auth_time,
        act=build_act(agent.client_id, ctx.issuer, None), email=user.email or None,
    )
    token = ctx.keys.key_ring().sign(claims, typ=TYP_ID_JAG, alg=partner.signing_alg)
    scope = tuple(sorted(granted)) if granted is not None else ()
    record = TokenRecord(
        jti=jti, subject=user.username, client_id=agent.client_id, grant_type=GRANT_TOKEN_EXCHANGE, mode=MODE,
        issued_at=now, expires_at=now + ttl, audience=(partner.issuer,), scope=scope, actors=(agent.client_id,),
        grant_ref=assertion.grant_ref,
    )
    event = AuditEvent(
        type="token.issued", client_id=agent.client_id, subject=user.username, actor_chain=(agent.client_id,),
        audience=(partner.issuer,), grant_type=GRANT_TOKEN_EXCHANGE, scope_requested=trace.scope_requested,
        scope_granted=scope, mode=MODE, jti=jti,
        data={
            "client_auth": client.method, "dialect": "id_jag", "issued_token_type": TOKEN_TYPE_ID_JAG,
            "subject_token_type": subject_token_type, "partner_client_id": remote_client_id,
            "resource": list(resources), **assertion.audit,
        },
    )
    body: dict[str, Any] = {
        "access_token": token,
        "issued_token_type": TOKEN_TYPE_ID_JAG,
        "token_type": TOKEN_TYPE_NA,  # RFC 8693 §2.2.1: not usable as an access token
        "expires_in": ttl,
    }
    if granted is not None:
        body["scope"] = " ".join(scope)
    return Issued(body, record, event)


def _read_assertion(token: str, token_type: str, agent: Agent, ctx: ServerContext, trace: Trace) -> _Assertion:
    trace.data["subject_token_type"] = token_type
    if token_type == TOKEN_TYPE_ID_TOKEN:
        if claimed_issuer(token) in (None, ctx.issuer):
            return _own_id_token(token, agent, ctx)
        subject = read_external_subject(token, agent, ctx, trace)
        return _Assertion(subject.user, subject.expires_at, audit=dict(subject.audit))
    if token_type == TOKEN_TYPE_REFRESH_TOKEN:
        return _own_refresh_token(token, agent, ctx)
    raise InvalidRequest(
        "subject_token_type_unsupported", f"{token_type!r}: an ID-JAG is issued for an id_token or a refresh_token"
    )


def _own_id_token(token: str, agent: Agent, ctx: ServerContext) -> _Assertion:
    """An ID token Deputy issued at sign-in (OIDC Core §3.1.3.7): ``typ`` JWT (never an access
    token), our issuer and keys, live, and issued to this client."""
    now = ctx.clock.now()
    try:
        verified = verify_jwt(
            token, ctx.keys.key_ring().verification_keys, algorithms=ISSUING_ALGORITHMS, now=now, typ=TYP_ID_TOKEN,
            issuer=ctx.issuer, required=("iss", "sub", "aud", "exp", "iat"), leeway=0,
        )
    except JWTInvalid as exc:
        raise InvalidRequest("subject_token_invalid", f"id_token: {exc}") from None
    claims = verified.claims
    aud = claims["aud"]
    audiences = {aud} if isinstance(aud, str) else {a for a in aud if isinstance(a, str)} if isinstance(aud, list) else set()
    # The draft's MUST: the assertion's audience is the authenticated client (Abblix #175: ID
    # tokens must not skip the confused-deputy guard). With several audiences, azp names it.
    azp = claims.get("azp")
    if agent.client_id not in audiences or (len(audiences) > 1 and azp != agent.client_id):
        raise InvalidRequest("subject_token_not_for_client", f"id_token aud {sorted(audiences)} azp {azp!r}")
    user = ctx.realm.get_user(str(claims["sub"]))
    if user is None:
        raise InvalidRequest("subject_user_unknown", f"user {claims['sub']!r} not found")
    auth_time = claims.get("auth_time")
    return _Assertion(
        user, int(claims["exp"]), auth_time=auth_time if isinstance(auth_time, int) else None,
        audit={"subject_jti": claims.get("jti")},
    )


def _own_refresh_token(token: str, agent: Agent, ctx: ServerContext) -> _Assertion:
    """A Deputy refresh token of this client, not rotated, revoked or expired, whose consent is
    still live. It is only looked at, never rotated: the client keeps using it as before."""
    chaining = ctx.chaining
    if chaining is None or chaining.refresh_tokens is None or chaining.consents is None:
        raise InvalidRequest("subject_token_type_unsupported", "refresh tokens are not accepted here")
    stored = chaining.refresh_tokens.get_refresh_token(opaque_hash(token))
    if stored is None:
        raise InvalidRequest("subject_token_invalid", "unknown refresh token")
    if stored.client_id != agent.client_id:
        raise InvalidRequest("subject_token_not_for_client", f"refresh token issued to {stored.client_id}")
    now = ctx.clock.now()
    if stored.revoked_at is not None or stored.used_at is not None or stored.expires_at <= now:
        raise InvalidRequest("subject_token_revoked", "refresh token revoked, rotated or expired")
    consent = chaining.consents.get_consent(stored.consent_id)
    if consent is None or not consent.live(now):
        raise InvalidRequest("subject_token_revoked", f"consent {stored.consent_id} withdrawn or expired")
    user = ctx.realm.get_user(stored.username)
    if user is None:
        raise InvalidRequest("subject_user_unknown", f"user {stored.username} not found")
    return _Assertion(
        user, stored.expires_at, auth_time=stored.auth_time, grant_ref=stored.consent_id,
        audit={"family_id": stored.family_id, "consent_id": stored.consent_id},
    )
