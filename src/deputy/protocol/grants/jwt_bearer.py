"""The JWT bearer authorization grant (RFC 7523 §2.1): ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
with one JWT in ``assertion`` and an optional ``scope``.

Deputy accepts two profiles of it, chosen by the request, never by guessing from the assertion:

- with ``requested_token_use=on_behalf_of``: Entra-style on-behalf-of, the assertion is a user's
  access token for the calling agent (:mod:`deputy.protocol.grants.on_behalf_of`);
- without it: an ID-JAG from a trusted IdP (:mod:`deputy.protocol.grants.id_jag_redemption`);
  any other assertion fails its checks (``typ`` first) and is refused.

A bad assertion is ``invalid_grant`` (RFC 7521 §5.2), never ``invalid_request`` (pitfall 9).
Entra's ``…:grant-type:jwt_bearer`` spelling reaches this grant through a registry alias
(see :func:`deputy.protocol.grants.base.default_grants`) and is never advertised.
"""

from __future__ import annotations

from deputy.constants import GRANT_JWT_BEARER, REQUESTED_TOKEN_USE_OBO
from deputy.errors import InvalidRequest
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.id_jag_redemption import redeem_id_jag
from deputy.protocol.grants.on_behalf_of import issue_on_behalf_of
from deputy.protocol.request import FormRequest


class JwtBearerGrant:
    grant_type = GRANT_JWT_BEARER

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued:
        assertion = request.required("assertion")
        use = request.one("requested_token_use")
        if use is None:
            return redeem_id_jag(assertion, request, client, ctx, trace)
        if use != REQUESTED_TOKEN_USE_OBO:
            raise InvalidRequest("requested_token_use_unsupported", f"requested_token_use {use!r}")
        return issue_on_behalf_of(assertion, request, client, ctx, trace)
