"""OAuth 2.0 Token Exchange (RFC 8693): an agent gets a token that acts for a user.

Delegation by default: the issued token's ``sub`` is the user and ``act`` names the agent, with
the subject token's own ``act`` nested inside (§4.1). Impersonation (no ``act``) only for agents
allowed to and only when asked for with the ``impersonate=true`` extension parameter.

The subject token is Deputy's own, or comes from a trusted external issuer
(:mod:`deputy.protocol.grants.external_subject`); either way it is reduced to a
:class:`~deputy.protocol.grants.subject.Subject` and the same decision follows
(:mod:`deputy.protocol.grants.delegated`).

``requested_token_type=urn:ietf:params:oauth:token-type:id-jag`` asks for something else: an
identity assertion for another domain's authorization server (cross-app access), handled by
:mod:`deputy.protocol.grants.id_jag_issuance`.
"""

from __future__ import annotations

from deputy.constants import (
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_BEARER,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_JWT,
)
from deputy.errors import InvalidRequest
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.delegated import issue_delegated
from deputy.protocol.grants.external_subject import claimed_issuer, read_external_subject
from deputy.protocol.grants.id_jag_issuance import issue_id_jag
from deputy.protocol.grants.subject import read_own, read_own_subject
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.request import FormRequest

# Deputy's own tokens are JWT access tokens; both identifiers name them (§3).
SUPPORTED_SUBJECT_TYPES = frozenset({TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT})
SUPPORTED_REQUESTED_TYPES = SUPPORTED_SUBJECT_TYPES
# A trusted external issuer's access tokens, and its ID tokens (as the ID-JAG draft requires).
EXTERNAL_SUBJECT_TYPES = SUPPORTED_SUBJECT_TYPES | {TOKEN_TYPE_ID_TOKEN}


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
        if requested_type == TOKEN_TYPE_ID_JAG:
            if actor_token is not None or impersonate_flag is not None:
                raise InvalidRequest("invalid_parameter", "actor_token and impersonate do not apply to an ID-JAG")
            return issue_id_jag(request, client, ctx, trace, subject_token, subject_token_type, scopes)
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
            subject = read_own_subject(subject_token, agent, ctx, trace)
        else:
            subject = read_external_subject(subject_token, agent, ctx, trace)

        if actor_token is not None:
            if actor_token_type not in SUPPORTED_SUBJECT_TYPES:
                raise InvalidRequest("actor_token_invalid", f"actor_token_type {actor_token_type!r}")
            actor = read_own(actor_token, ctx, "actor_token_invalid")
            if actor.record.subject != agent.client_id:
                raise InvalidRequest(
                    "actor_not_client", f"actor token sub {actor.record.subject} is not {agent.client_id}"
                )

        if impersonation and subject.act is not None:
            raise InvalidRequest("impersonation_not_allowed", "cannot impersonate through a delegated token")

        resource = resolve_target(targets, ctx)
        issued = issue_delegated(
            ctx, client, subject, resource, requested_scopes=scopes, grant_type=self.grant_type, trace=trace,
            impersonation=impersonation, data={"actor_token": actor_token is not None},
        )
        body = {
            "access_token": issued.token,
            "issued_token_type": requested_type,
            "token_type": TOKEN_TYPE_BEARER,
            "expires_in": issued.ttl,
            "scope": " ".join(issued.granted),
        }
        return Issued(body, issued.record, issued.event)
