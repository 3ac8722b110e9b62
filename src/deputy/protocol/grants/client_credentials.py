"""Client credentials (RFC 6749 §4.4): the agent acts as itself, machine to machine."""

from __future__ import annotations

from deputy.audit import AuditEvent
from deputy.constants import GRANT_CLIENT_CREDENTIALS, TOKEN_TYPE_BEARER, TYP_ACCESS_TOKEN
from deputy.errors import InvalidRequest
from deputy.policy.delegation import decide_client_credentials
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace, refusal
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.ports import TokenRecord
from deputy.protocol.request import FormRequest
from deputy.protocol.tokens import access_token_claims
from deputy.secret import new_token_id


class ClientCredentialsGrant:
    grant_type = GRANT_CLIENT_CREDENTIALS

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued:
        agent = client.agent
        scopes = request.scopes()
        trace.scope_requested = tuple(sorted(scopes)) if scopes is not None else None
        trace.subject = agent.client_id
        trace.mode = "client"
        targets = requested_targets(request)
        if not targets and len(agent.resource_grants) == 1:
            targets = (agent.resource_grants[0].resource,)  # the only place this agent may go
        if not targets:
            raise InvalidRequest("target_missing", "client_credentials needs a resource or audience")
        trace.audience = targets
        resource = resolve_target(targets, ctx)
        decision = decide_client_credentials(agent, resource, scopes)
        if not decision.allowed:
            raise refusal(decision.reasons[0], decision.explanation)
        now = ctx.clock.now()
        jti = new_token_id()
        claims = access_token_claims(
            issuer=ctx.issuer, subject=agent.client_id, audience=resource.identifier, client_id=agent.client_id,
            scopes=decision.scopes, jti=jti, now=now, ttl=decision.ttl,
        )
        token = ctx.keys.key_ring().sign(claims, typ=TYP_ACCESS_TOKEN, alg=resource.signing_alg)
        granted = tuple(sorted(decision.scopes))
        record = TokenRecord(
            jti=jti, subject=agent.client_id, client_id=agent.client_id, grant_type=self.grant_type, mode="client",
            issued_at=now, expires_at=now + decision.ttl, audience=(resource.identifier,), scope=granted,
        )
        event = AuditEvent(
            type="token.issued", client_id=agent.client_id, subject=agent.client_id, audience=(resource.identifier,),
            grant_type=self.grant_type, scope_requested=trace.scope_requested, scope_granted=granted,
            mode="client", jti=jti, data={"client_auth": client.method},
        )
        body = {"access_token": token, "token_type": TOKEN_TYPE_BEARER, "expires_in": decision.ttl, "scope": " ".join(granted)}
        return Issued(body, record, event)
