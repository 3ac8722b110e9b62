"""``none``: a public client names itself with ``client_id`` alone (RFC 6749 §2.1, §3.2.1).

Only for clients registered as public, only at the token endpoint, and only for the
authorization_code grant (where PKCE, always required, binds the code to the client that asked
for it) and the refresh_token grant (whose tokens are bound to the client and rotated). A
confidential client that sends only its client_id is refused as before (``client_secret_missing``).
"""

from __future__ import annotations

from deputy.constants import AUTH_NONE, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN
from deputy.errors import InvalidClient
from deputy.protocol.client_auth.base import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest

PUBLIC_CLIENT_GRANTS = frozenset({GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN})


class NoClientAuthentication:
    name = AUTH_NONE

    def presented(self, request: FormRequest) -> bool:
        """A client_id and no credentials of any other method."""
        return (
            request.one("client_id") is not None
            and request.one("client_secret") is None
            and request.one("client_assertion") is None
            and request.one("client_assertion_type") is None
            and not (request.authorization or "").lower().startswith("basic ")
        )

    def authenticate(self, request: FormRequest, ctx: ServerContext, endpoint_url: str) -> AuthenticatedClient:
        client_id = request.one("client_id") or ""
        agent = ctx.realm.get_agent(client_id)
        if agent is None or not agent.public_client:
            # Every other client is confidential: a client_id alone is not authentication.
            raise InvalidClient("client_secret_missing", f"client {client_id!r} sent no credentials")
        grant_type = request.one("grant_type")
        if endpoint_url != ctx.settings.token_endpoint or grant_type not in PUBLIC_CLIENT_GRANTS:
            raise InvalidClient("public_client_grant", f"public client {client_id!r}: {grant_type!r} at {endpoint_url}")
        return AuthenticatedClient(agent, self.name)
