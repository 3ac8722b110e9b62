"""Deputy trusting a fake external issuer, with no sockets: the real key cache, fetching through an
in-process httpx transport that the fake issuer answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deputy.federation import IssuerKeyCache
from deputy.protocol.token_endpoint import TokenEndpoint
from deputy.realm import TrustedIssuer
from deputy.runtime import Deputy
from tests.fake_issuer import FakeIssuer

AGENT_AUDIENCE = "api://incident-agent"


def use_key_cache(deputy: Deputy, cache: IssuerKeyCache) -> None:
    """Rewire ``deputy`` so that the token endpoint fetches external keys through ``cache``."""
    federation = deputy.context.federation
    assert federation is not None
    ctx = replace(deputy.context, federation=replace(federation, keys=cache))
    deputy.context = ctx
    deputy.token = TokenEndpoint(ctx, deputy.token.grants, deputy.token.authenticator)


def trust(deputy: Deputy, idp: FakeIssuer, *, by: str = "discovery", **fields: Any) -> TrustedIssuer:
    """Trust ``idp``: incident-agent is ``api://incident-agent`` there, users named by ``sub``."""
    values: dict[str, Any] = {
        "issuer": idp.issuer,
        "agent_audiences": (("incident-agent", (AGENT_AUDIENCE,)),),
    }
    if by == "discovery":
        values["discovery_url"] = idp.discovery_url
    else:
        values["jwks_uri"] = idp.jwks_uri
    values.update(fields)
    return deputy.admin("test").put_issuer(TrustedIssuer(**values))
