"""Okta-style cross-app access with the agent SDK, between two independent Deputy servers.

The servers are the ones of tests/e2e/test_cross_app_access.py (an enterprise IdP and the
incident desk's authorization server, each under uvicorn). The provider is configured once, with
discovery at both ends and private_key_jwt at both (a fresh assertion per token endpoint); the
tool then just asks for a token.
"""

from __future__ import annotations

import asyncio

from deputy.agent import CredentialProvider, CrossAppAccess, PrivateKeyJWT, TokenBroker, user_token
from deputy.jose import peek_claims
from tests.e2e.browser import sign_in
from tests.e2e.test_cross_app_access import (  # noqa: F401 - servers is a fixture
    AGENT_CLIENT_ID,
    AGENT_CLIENT_ID_AT_AS,
    INCIDENTS,
    OKTA_SCOPE,
    Servers,
    audit,
    servers,
)


def provider(world: Servers) -> CredentialProvider:
    return CredentialProvider(
        name="incident-desk",
        flow=CrossAppAccess(idp_client=PrivateKeyJWT(AGENT_CLIENT_ID, world.private_jwk), idp_issuer=world.idp),
        client=PrivateKeyJWT(AGENT_CLIENT_ID_AT_AS, world.private_jwk),
        issuer=world.resource_as,
        scopes=(OKTA_SCOPE,),
    )


def test_id_token_to_id_jag_to_access_token(servers: Servers) -> None:  # noqa: F811
    broker = TokenBroker([provider(servers)])
    id_token = sign_in(servers.idp, AGENT_CLIENT_ID, "incident-agent-dev-secret", "jane", "jane-dev-password")["id_token"]
    with user_token(id_token):
        token = broker.get_token("incident-desk")
        again = asyncio.run(broker.aget_token("incident-desk"))
    assert again is token  # the vault's: one ID-JAG, one access token
    claims = peek_claims(token.value)[1]
    assert (claims["iss"], claims["sub"], claims["aud"]) == (servers.resource_as, "jane@example.com", INCIDENTS)
    assert claims["client_id"] == AGENT_CLIENT_ID_AT_AS and token.scopes == {OKTA_SCOPE}
    (at_idp,) = [e for e in audit(servers.idp, "token.issued") if e["mode"] == "id_jag"]
    assert at_idp["data"]["client_auth"] == "private_key_jwt"
    assert len(audit(servers.resource_as, "token.issued")) == 1
