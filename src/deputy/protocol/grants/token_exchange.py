"""OAuth 2.0 Token Exchange (RFC 8693): an agent gets a token that acts for a user.

Delegation by default: the issued token's ``sub`` is the user and ``act`` names the agent, with
the subject token's own ``act`` nested inside (§4.1). Impersonation (no ``act``) only for agents
allowed to and only when asked for with the ``impersonate=true`` extension parameter.

The subject token is Deputy's own, or comes from a trusted external issuer
(:mod:`deputy.protocol.grants.external_subject`); either way it is reduced to a
:class:`~deputy.protocol.grants.subject.Subject` and the same decision follows.
"""

from __future__ import annotations

from deputy.audit import AuditEvent
from deputy.constants import (
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_BEARER,
    TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_JWT,
    TYP_ACCESS_TOKEN,
)
from deputy.errors import InvalidRequest
from deputy.jose import JWTInvalid
from deputy.policy import DelegationRequest, decide
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace, refusal
from deputy.protocol.grants.external_subject import claimed_issuer, read_external_subject
from deputy.protocol.grants.subject import Subject
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.ports import TokenRecord
from deputy.protocol.request import FormRequest
from deputy.protocol.tokens import OwnToken, TokenInactive, access_token_claims, act_chain, build_act, read_own_token
from deputy.realm import Agent
from deputy.secret import new_token_id

# Deputy's own tokens are JWT access tokens; both identifiers name them (§3).
SUPPORTED_SUBJECT_TYPES = frozenset({TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT})
SUPPORTED_REQUESTED_TYPES = SUPPORTED_SUBJECT_TYPES
# A trusted external issuer's access tokens, and its ID tokens (as the ID-JAG draft requires).
EXTERNAL_SUBJECT_TYPES = SUPPORTED_SUBJECT_TYPES | {TOKEN_TYPE_ID_TOKEN}


def _read_token(token: str, ctx: ServerContext, invalid_reason: str) -> OwnToken:
    """§2.2.2: an invalid or unacceptable subject/actor token is ``invalid_request``."""
    try:
        return read_own_token(token, ctx)
    except JWTInvalid as exc:
        raise InvalidRequest(invalid_reason, str(exc)) from None
    except TokenInactive as exc:
        reason = exc.reason if invalid_reason == "subject_token_invalid" else "actor_token_invalid"
        raise InvalidRequest(reason, exc.detail) from None


def _own_subject(token: str, agent: Agent, ctx: ServerContext, trace: Trace) -> Subject:
    subject = _read_token(token, ctx, "subject_token_invalid")
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


class TokenExchangeGrant:
    grant_type = GRANT_TOKEN_EXCHANGE

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued:
        agent = client.agent
        subject_token = request.required("subject_token")
        subject_token_type = request.required("subject_token_type")
        actor_token = request.one("actor_token")
        actor_token_type = request.one("actor_token_type")
        requested_type = request.one("requested_token_type") or TOKEN_TYPE_ACCESS_TOKEN
        impersonate_flag = request.one("impersonate")
        scopes = request.scopes()
        trace.scope_requested = tuple(sorted(scopes)) if scopes is not None else None
        targets = requested_targets(request)
        trace.audience = targets

        if actor_token is not None and actor_token_type is None:
            raise InvalidRequest("actor_token_type_missing", "actor_token without actor_token_type")
        if actor_token is None and actor_token_type is not None:
            raise InvalidRequest("actor_token_type_unexpected", "actor_token_type without actor_token")
        if subject_token_type not in EXTERNAL_SUBJECT_TYPES:
            raise InvalidRequest("subject_token_type_unsupported", f"subject_token_type {subject_token_type!r}")
        if requested_type not in SUPPORTED_REQUESTED_TYPES:
            raise InvalidRequest("requested_token_type_unsupported", f"requested_token_type {requested_type!r}")
        if impersonate_flag not in (None, "true", "false"):
            raise InvalidRequest("invalid_parameter", f"impersonate={impersonate_flag!r}")
        impersonation = impersonate_flag == "true"

        # The unverified iss only chooses whose keys verify the token (docs/trusted-issuers.md).
        if claimed_issuer(subject_token) in (None, ctx.issuer):
            if subject_token_type not in SUPPORTED_SUBJECT_TYPES:
                raise InvalidRequest("subject_token_type_unsupported", f"{subject_token_type!r} for a Deputy token")
            subject = _own_subject(subject_token, agent, ctx, trace)
        else:
            subject = read_external_subject(subject_token, agent, ctx, trace)
        prior_act = subject.act
        prior_chain = tuple(act_chain(prior_act))

        if actor_token is not None:
            if actor_token_type not in SUPPORTED_SUBJECT_TYPES:
                raise InvalidRequest("actor_token_invalid", f"actor_token_type {actor_token_type!r}")
            actor = _read_token(actor_token, ctx, "actor_token_invalid")
            if actor.record.subject != agent.client_id:
                raise InvalidRequest(
                    "actor_not_client", f"actor token sub {actor.record.subject} is not {agent.client_id}"
                )

        if impersonation and prior_act is not None:
            raise InvalidRequest("impersonation_not_allowed", "cannot impersonate through a delegated token")

        user = subject.user
        resource = resolve_target(targets, ctx)
        trace.audience = (resource.identifier,)
        mode = "impersonation" if impersonation else "delegation"
        trace.mode = mode
        chain = prior_chain if impersonation else (agent.client_id, *prior_chain)
        trace.actor_chain = chain

        subject_scopes: frozenset[str] | None = None
        if subject.downstream:
            subject_scopes = subject.scopes
            if not subject_scopes:
                # A downstream token without scope must not pass every subset check (pitfall 1).
                raise InvalidRequest("subject_token_without_scope", f"subject token {subject.parent_jti} has no scope")

        may_act = subject.may_act
        if may_act is not None and not isinstance(may_act, dict):
            # A malformed may_act must not read as "no restriction" (fail closed).
            raise InvalidRequest("may_act_mismatch", f"may_act is a {type(may_act).__name__}, not an object")
        decision = decide(
            DelegationRequest(
                agent=agent, user=user, resource=resource,
                user_entitlements=ctx.realm.user_entitlements(user.username, resource.identifier),
                requested_scopes=scopes, subject_scopes=subject_scopes,
                chain_depth=len(chain), max_chain_depth=ctx.settings.max_chain_depth,
                may_act=may_act if isinstance(may_act, dict) else None,
                issuer=ctx.issuer, impersonation=impersonation,
            )
        )
        if not decision.allowed:
            raise refusal(decision.reasons[0], decision.explanation)

        now = ctx.clock.now()
        # Never outlive the subject token: a resource that checks the JWT locally would otherwise
        # accept a delegated token after the authority it came from has ended.
        ttl = min(decision.ttl, max(subject.expires_at - now, 1))
        jti = new_token_id()
        act = None if impersonation else build_act(agent.client_id, ctx.issuer, prior_act)
        claims = access_token_claims(
            issuer=ctx.issuer, subject=user.username, audience=resource.identifier, client_id=agent.client_id,
            scopes=decision.scopes, jti=jti, now=now, ttl=ttl, act=act,
        )
        token = ctx.keys.key_ring().sign(claims, typ=TYP_ACCESS_TOKEN, alg=resource.signing_alg)
        granted = tuple(sorted(decision.scopes))
        record = TokenRecord(
            jti=jti, subject=user.username, client_id=agent.client_id, grant_type=self.grant_type, mode=mode,
            issued_at=now, expires_at=now + ttl, audience=(resource.identifier,), scope=granted,
            actors=chain, parent_jti=subject.parent_jti,
        )
        event = AuditEvent(
            type="token.issued", client_id=agent.client_id, subject=user.username, actor_chain=chain,
            audience=(resource.identifier,), grant_type=self.grant_type, scope_requested=trace.scope_requested,
            scope_granted=granted, mode=mode, jti=jti, parent_jti=subject.parent_jti,
            data={"client_auth": client.method, "actor_token": actor_token is not None, **subject.audit},
        )
        body = {
            "access_token": token,
            "issued_token_type": requested_type,
            "token_type": TOKEN_TYPE_BEARER,
            "expires_in": ttl,
            "scope": " ".join(granted),
        }
        return Issued(body, record, event)
