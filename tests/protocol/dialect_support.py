"""Helpers for the jwt-bearer dialects (Entra on-behalf-of, ID-JAG) driven without HTTP."""

from __future__ import annotations

import secrets
from typing import Any

from deputy.federation import IssuerKeyCache
from deputy.protocol.response import Response
from deputy.realm import PartnerServer, TrustedIssuer
from deputy.runtime import Deputy
from tests.conftest import AGENT, ISSUER
from tests.fake_issuer import FakeIssuer
from tests.helpers import form
from tests.protocol.federation_support import use_key_cache

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_BEARER_UNDERSCORE = "urn:ietf:params:oauth:grant-type:jwt_bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"
ID_JAG_TYP = "oauth-id-jag+jwt"

# The enterprise IdP of the redemption tests, and the partner AS of the issuance tests.
IDP = "https://idp.example.com"
PARTNER = "https://as.partner.example"
PARTNER_API = "https://api.partner.example"


def obo(
    deputy: Deputy, assertion: str, scope: str | None = "https://incidents.example/.default",
    auth: tuple[str, str] | None = AGENT, **params: str,
) -> Response:
    """An Entra on-behalf-of request, as MSAL and AgentCore send it."""
    values: dict[str, str] = {"grant_type": JWT_BEARER, "assertion": assertion, "requested_token_use": "on_behalf_of"}
    if scope is not None:
        values["scope"] = scope
    values.update(params)
    return deputy.token.handle(form(values, auth))


def redeem(deputy: Deputy, assertion: str, auth: tuple[str, str] | None = AGENT, **params: str) -> Response:
    """Step 2 of cross-app access: the ID-JAG as a jwt-bearer assertion."""
    return deputy.token.handle(form({"grant_type": JWT_BEARER, "assertion": assertion, **params}, auth))


def request_id_jag(
    deputy: Deputy, subject_token: str, subject_token_type: str = ID_TOKEN_TYPE, auth: tuple[str, str] | None = AGENT,
    **params: str | list[str],
) -> Response:
    """Step 1 of cross-app access: token exchange for an ID-JAG (the seed's Okta request)."""
    values: dict[str, str | list[str]] = {
        "grant_type": TOKEN_EXCHANGE, "requested_token_type": ID_JAG_TYPE, "subject_token": subject_token,
        "subject_token_type": subject_token_type, "audience": PARTNER,
    }
    values.update(params)
    return deputy.token.handle(form(values, auth))


def add_partner(deputy: Deputy, **fields: Any) -> PartnerServer:
    values: dict[str, Any] = {
        "issuer": PARTNER, "name": "Partner desk",
        "agent_clients": (("incident-agent", "xaa-incident-agent"),),
        "scopes": ("incidents:read", "tickets:read"), "resources": (PARTNER_API,),
    }
    values.update(fields)
    return deputy.admin("test").put_partner(PartnerServer(**values))


# -- a fake enterprise IdP issuing ID-JAGs, trusted by the deputy under test ----------------------

def trusted_idp(deputy: Deputy, clock_now: Any, *, id_jag: bool = True, **fields: Any) -> FakeIssuer:
    """A fake IdP that Deputy trusts for ID-JAGs; keys fetched in-process (no sockets)."""
    idp = FakeIssuer(IDP, alg="RS256", now=clock_now)
    use_key_cache(deputy, IssuerKeyCache(deputy.store.clock, transport=idp.transport()))
    values: dict[str, Any] = {"issuer": idp.issuer, "jwks_uri": idp.jwks_uri, "id_jag": id_jag}
    values.update(fields)
    deputy.admin("test").put_issuer(TrustedIssuer(**values))
    return idp


def jag_claims(idp: FakeIssuer, **overrides: Any) -> dict[str, Any]:
    now = idp.now()
    claims: dict[str, Any] = {
        "iss": idp.issuer, "sub": "jane", "aud": ISSUER, "client_id": AGENT[0], "jti": secrets.token_hex(8),
        "iat": now, "exp": now + 300, "scope": "incidents:read incidents:write",
        "resource": "https://incidents.example",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def mint_jag(idp: FakeIssuer, typ: str | None = ID_JAG_TYP, **overrides: Any) -> str:
    return idp.mint(jag_claims(idp, **overrides), typ=typ)
