"""The CIBA grant (OpenID CIBA Core 1.0 §10.1, poll mode): the agent polls the token endpoint
with ``grant_type=urn:openid:params:grant-type:ciba`` and the ``auth_req_id`` it got from
``/bc-authorize`` (:mod:`deputy.protocol.backchannel`).

§11 answers while there is no token: ``authorization_pending`` (the user has not decided),
``slow_down`` (polled before the interval had passed; the interval grows by 5 seconds for this and
every later poll), ``access_denied`` (the user denied), ``expired_token``. Another client's
``auth_req_id`` is ``invalid_grant``, as is a spent one: an approval yields exactly one token.

The token is a delegated token like any other (``sub`` = the user, ``act`` = the agent, one
audience; :mod:`deputy.protocol.grants.delegated`), decided again at issuance (an agent suspended
or a user removed from a group since the approval gets nothing), with the approval-required scopes
allowed because the user approved this very request. It is tied to the consent the approval
created, so withdrawing that consent revokes it and everything derived from it.
"""

from __future__ import annotations

from dataclasses import replace

from deputy.constants import GRANT_CIBA, TOKEN_TYPE_BEARER
from deputy.errors import ApprovalDenied, AuthorizationPending, ExpiredToken, InvalidGrant, SlowDown
from deputy.protocol.backchannel_ports import BackchannelLedger, BackchannelStatus
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.delegated import issue_delegated
from deputy.protocol.grants.subject import Subject
from deputy.protocol.request import FormRequest
from deputy.protocol.sign_in_ports import ConsentLedger, opaque_hash

SLOW_DOWN_STEP = 5  # §11: "the interval MUST be increased by at least 5 seconds"


class CibaGrant:
    grant_type = GRANT_CIBA

    def __init__(self, ledger: BackchannelLedger, consents: ConsentLedger) -> None:
        self.ledger = ledger
        self.consents = consents

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued:
        auth_req_id = request.required("auth_req_id")
        now = ctx.clock.now()
        poll = self.ledger.poll(opaque_hash(auth_req_id), client.client_id, now, SLOW_DOWN_STEP)
        if poll is None:
            raise InvalidGrant("auth_req_id_invalid", "unknown auth_req_id")
        pending = poll.request
        trace.data["request_id"] = pending.request_id
        if pending.client_id != client.client_id:
            # Never reveal anything about another client's request (not even that it exists).
            raise InvalidGrant("auth_req_id_invalid", f"request {pending.request_id} belongs to {pending.client_id}")
        trace.subject = pending.username
        trace.audience = (pending.resource,)
        trace.scope_requested = pending.scopes
        trace.mode = "delegation"
        trace.actor_chain = (client.client_id,)
        if pending.status is BackchannelStatus.ISSUED:
            raise InvalidGrant("auth_req_id_used", f"request {pending.request_id} already yielded {pending.issued_jti}")
        if pending.expired(now):
            raise ExpiredToken("auth_req_id_expired", f"request {pending.request_id} expired at {pending.expires_at}")
        if pending.status is BackchannelStatus.DENIED:
            raise ApprovalDenied("approval_denied", f"denied by {pending.decided_by} at {pending.decided_at}")
        if pending.status is BackchannelStatus.PENDING:
            if poll.too_fast:
                raise SlowDown(
                    "slow_down", f"polled {now - pending.last_polled_at}s after the last poll; interval now "
                    f"{pending.interval + SLOW_DOWN_STEP}s",
                )
            raise AuthorizationPending("authorization_pending", f"request {pending.request_id}")

        consent = self.consents.get_consent(pending.consent_id) if pending.consent_id else None
        if consent is None or not consent.live(now):
            # The user withdrew the approval (under "My agents") before the agent collected it.
            raise ApprovalDenied("approval_denied", f"the consent of request {pending.request_id} was withdrawn")
        user = ctx.realm.get_user(pending.username)
        resource = ctx.realm.get_resource(pending.resource)
        if user is None or resource is None:
            raise InvalidGrant("auth_req_id_invalid", f"user or resource of {pending.request_id} no longer exists")
        subject = Subject(user=user, expires_at=now + resource.token_ttl)
        issued = issue_delegated(
            ctx, client, subject, resource, requested_scopes=frozenset(pending.scopes), grant_type=self.grant_type,
            trace=trace, approved=True, default_error=InvalidGrant,
            data={"request_id": pending.request_id, "approved_by": pending.decided_by, "consent_id": pending.consent_id},
        )
        # Exactly one token per approval: only the poll that flips approved -> issued gets it.
        if not self.ledger.mark_issued(pending.request_id, issued.record.jti, now):
            raise InvalidGrant("auth_req_id_used", f"request {pending.request_id} was redeemed concurrently")
        record = replace(issued.record, grant_ref=pending.consent_id)
        body = {
            "access_token": issued.token,
            "token_type": TOKEN_TYPE_BEARER,
            "expires_in": issued.ttl,
            "scope": " ".join(issued.granted),
        }
        return Issued(body, record, issued.event)
