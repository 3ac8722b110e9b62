"""OAuth 2.0 Token Exchange (RFC 8693): an agent gets a token that acts for a user.

Delegation by default: the issued token's ``sub`` is the user and ``act`` names the agent, with
the subject token's own ``act`` nested inside (§4.1). Impersonation (no ``act``) only for agents
allowed to and only when asked for with the ``impersonate=true`` extension parameter.
"""

from __future__ import annotations

from deputy.audit import AuditEvent
from deputy.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_BEARER, TOKEN_TYPE_JWT, TYP_ACCESS_TOKEN
from deputy.errors import InvalidRequest
from deputy.jose import JWTInvalid
from deputy.policy import DelegationRequest, decide
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace, refusal
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.ports import TokenRecord
from deputy.protocol.request import FormRequest
from deputy.protocol.tokens import OwnToken, TokenInactive, access_token_claims, act_chain, build_act, read_own_token
from deputy.secret import new_token_id

# Deputy's own tokens are JWT access tokens; both identifiers name them (§3).
SUPPORTED_SUBJECT_TYPES = frozenset({TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT})
SUPPORTED_REQUESTED_TYPES = SUPPORTED_SUBJECT_TYPES


def _read_token(token: str, ctx: ServerContext, invalid_reason: str) -> OwnToken:
    """§2.2.2: an invalid or unacceptable subject/actor token is ``invalid_request``."""
    try:
        return read_own_token(token, ctx)
    except JWTInvalid as exc:
        raise InvalidRequest(invalid_reason, str(exc)) from None
    except TokenInactive as exc:
        reason = exc.reason if invalid_reason == "subject_token_invalid" else "actor_token_invalid"
        raise InvalidRequest(reason, exc.detail) from None


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
        if subject_token_type not in SUPPORTED_SUBJECT_TYPES:
            raise InvalidRequest("subject_token_type_unsupported", f"subject_token_type {subject_token_type!r}")
        if requested_type not in SUPPORTED_REQUESTED_TYPES:
            raise InvalidRequest("requested_token_type_unsupported", f"requested_token_type {requested_type!r}")
        if impersonate_flag not in (None, "true", "false"):
            raise InvalidRequest("invalid_parameter", f"impersonate={impersonate_flag!r}")
        impersonation = impersonate_flag == "true"

        subject = _read_token(subject_token, ctx, "subject_token_invalid")
        trace.subject = subject.record.subject
        trace.parent_jti = subject.jti
        prior_act = subject.act
        prior_chain = tuple(act_chain(prior_act))

        # Confused deputy (RFC 8693 §2.1, Keycloak #11542): a client may only exchange a token
        # that was issued to it, i.e. whose audience names this agent.
        if not (subject.audiences & agent.identifiers):
            raise InvalidRequest(
                "subject_token_not_for_client",
                f"subject token aud {sorted(subject.audiences)} does not name {agent.client_id}",
            )
        if subject.record.mode == "client":
            raise InvalidRequest("subject_not_user", f"subject {subject.record.subject} is a client")

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

        user = ctx.realm.get_user(subject.record.subject)
        if user is None:
            raise InvalidRequest("subject_user_unknown", f"user {subject.record.subject} not found")
        resource = resolve_target(targets, ctx)
        trace.audience = (resource.identifier,)
        mode = "impersonation" if impersonation else "delegation"
        trace.mode = mode
        chain = prior_chain if impersonation else (agent.client_id, *prior_chain)
        trace.actor_chain = chain

        subject_scopes: frozenset[str] | None = None
        if subject.is_downstream:
            subject_scopes = subject.scopes
            if not subject_scopes:
                # A downstream token without scope must not pass every subset check (pitfall 1).
                raise InvalidRequest("subject_token_without_scope", f"subject token {subject.jti} has no scope")

        may_act = subject.claims.get("may_act")
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
        jti = new_token_id()
        act = None if impersonation else build_act(agent.client_id, ctx.issuer, prior_act)
        claims = access_token_claims(
            issuer=ctx.issuer, subject=user.username, audience=resource.identifier, client_id=agent.client_id,
            scopes=decision.scopes, jti=jti, now=now, ttl=decision.ttl, act=act,
        )
        token = ctx.keys.key_ring().sign(claims, typ=TYP_ACCESS_TOKEN, alg=resource.signing_alg)
        granted = tuple(sorted(decision.scopes))
        record = TokenRecord(
            jti=jti, subject=user.username, client_id=agent.client_id, grant_type=self.grant_type, mode=mode,
            issued_at=now, expires_at=now + decision.ttl, audience=(resource.identifier,), scope=granted,
            actors=chain, parent_jti=subject.jti,
        )
        event = AuditEvent(
            type="token.issued", client_id=agent.client_id, subject=user.username, actor_chain=chain,
            audience=(resource.identifier,), grant_type=self.grant_type, scope_requested=trace.scope_requested,
            scope_granted=granted, mode=mode, jti=jti, parent_jti=subject.jti,
            data={"client_auth": client.method, "actor_token": actor_token is not None},
        )
        body = {
            "access_token": token,
            "issued_token_type": requested_type,
            "token_type": TOKEN_TYPE_BEARER,
            "expires_in": decision.ttl,
            "scope": " ".join(granted),
        }
        return Issued(body, record, event)
