"""The flows a credential provider can use, each citing the text it follows.

- :class:`ClientCredentials`: the agent as itself, machine to machine (RFC 6749 §4.4).
- :class:`TokenExchange`: the user's token exchanged for one for the downstream API (RFC 8693
  §2.1), with an optional actor token (a static or computed token, or a file such as a SPIFFE
  JWT-SVID, re-read on each exchange since it rotates).
- :class:`OnBehalfOf`: Microsoft Entra's on-behalf-of (RFC 7523 jwt-bearer with
  ``requested_token_use=on_behalf_of``, SPECS.md §2).
- :class:`CrossAppAccess`: Okta-style cross-app access (draft-ietf-oauth-identity-assertion-authz-grant):
  the user's id_token -> an ID-JAG at the IdP (token exchange), then the ID-JAG -> an access
  token at the resource's authorization server (jwt-bearer), each with its own client
  authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deputy.agent.client_auth import ClientAuth
from deputy.agent.errors import ConfigurationError
from deputy.agent.provider import CredentialProvider, Steps
from deputy.agent.token import UserToken
from deputy.constants import (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    REQUESTED_TOKEN_USE_OBO,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_JWT,
)
from deputy.resource.fetch import check_url

__all__ = ["ActorToken", "ClientCredentials", "CrossAppAccess", "OnBehalfOf", "TokenExchange"]


def _user(user: UserToken | None) -> UserToken:
    if user is None:  # the broker checks needs_user first; this guards direct use
        raise ConfigurationError("this flow needs the user's token")
    return user


@dataclass(frozen=True)
class ClientCredentials:
    """RFC 6749 §4.4: a token for the agent itself; no user involved."""

    name: str = "client_credentials"
    needs_user: bool = False

    def run(self, provider: CredentialProvider, user: UserToken | None, scopes: tuple[str, ...]) -> Steps:
        endpoint = yield from provider.endpoint()
        data = {"grant_type": GRANT_CLIENT_CREDENTIALS, **provider.target(scopes)}
        return (yield from provider.token_request(endpoint, data))


@dataclass(frozen=True)
class ActorToken:
    """Where the actor token (RFC 8693 §2.1 ``actor_token``) comes from: exactly one of a fixed
    ``value``, a ``getter`` called per exchange, or a ``path`` read per exchange (a SPIFFE
    JWT-SVID file, a Kubernetes projected token)."""

    value: str | None = field(default=None, repr=False)
    getter: Callable[[], str] | None = field(default=None, repr=False)
    path: Path | None = None
    token_type: str = TOKEN_TYPE_JWT

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.value, self.getter, self.path)) != 1:
            raise ConfigurationError("an actor token needs exactly one of value, getter or path")

    def read(self) -> str:
        if self.value is not None:
            return self.value
        if self.getter is not None:
            return self.getter()
        if self.path is None:  # pragma: no cover - __post_init__ guarantees one source
            raise ConfigurationError("an actor token needs exactly one of value, getter or path")
        return self.path.read_text().strip()


@dataclass(frozen=True)
class TokenExchange:
    """RFC 8693 delegation: ``subject_token`` is the user's token; ``actor_token`` (optional) is
    the agent's own, so the issued token records the agent in ``act``."""

    actor: ActorToken | None = None
    requested_token_type: str | None = TOKEN_TYPE_ACCESS_TOKEN
    name: str = "token_exchange"
    needs_user: bool = True

    def run(self, provider: CredentialProvider, user: UserToken | None, scopes: tuple[str, ...]) -> Steps:
        subject = _user(user)
        endpoint = yield from provider.endpoint()
        data = {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "subject_token": subject.value,
            "subject_token_type": subject.token_type,
            "requested_token_type": self.requested_token_type or "",
            **provider.target(scopes),
        }
        if self.actor is not None:  # §2.1: actor_token_type only with actor_token
            data["actor_token"] = self.actor.read()
            data["actor_token_type"] = self.actor.token_type
        return (yield from provider.token_request(endpoint, data))


@dataclass(frozen=True)
class OnBehalfOf:
    """Entra's on-behalf-of: ``assertion`` = the user's token (whose ``aud`` is this agent),
    ``requested_token_use=on_behalf_of``, the downstream API named by ``scope``
    (``<app id uri>/.default`` or ``<app id uri>/<scope>``)."""

    name: str = "on_behalf_of"
    needs_user: bool = True

    def run(self, provider: CredentialProvider, user: UserToken | None, scopes: tuple[str, ...]) -> Steps:
        subject = _user(user)
        endpoint = yield from provider.endpoint()
        data = {
            "grant_type": GRANT_JWT_BEARER,  # never the jwt_bearer dialect (SPECS.md pitfall 11)
            "assertion": subject.value,
            "requested_token_use": REQUESTED_TOKEN_USE_OBO,
            **provider.target(scopes),
        }
        return (yield from provider.token_request(endpoint, data))


@dataclass(frozen=True)
class CrossAppAccess:
    """Okta-style cross-app access (ID-JAG). The provider's own endpoint, ``client`` and
    ``audience``/``resource`` are the resource authorization server's; the IdP is given here with
    the agent's client authentication there. ``resource_issuer`` is the resource AS's issuer (the
    ID-JAG's ``aud``); it defaults to the provider's ``issuer``. The user token is an id_token."""

    idp_client: ClientAuth
    idp_token_endpoint: str | None = None
    idp_issuer: str | None = None
    resource_issuer: str | None = None
    subject_token_type: str = TOKEN_TYPE_ID_TOKEN
    name: str = "cross_app_access"
    needs_user: bool = True

    def __post_init__(self) -> None:
        if (self.idp_token_endpoint is None) == (self.idp_issuer is None):
            raise ConfigurationError("cross-app access needs exactly one of idp_token_endpoint or idp_issuer")
        for url in (self.idp_token_endpoint, self.idp_issuer, self.resource_issuer):
            if url is not None and (problem := check_url(url)) is not None:
                raise ConfigurationError(f"cross-app access: {url!r} {problem}")

    def run(self, provider: CredentialProvider, user: UserToken | None, scopes: tuple[str, ...]) -> Steps:
        subject = _user(user)
        audience = self.resource_issuer or provider.issuer
        if audience is None:
            raise ConfigurationError(f"provider {provider.name!r}: cross-app access needs resource_issuer or issuer")
        idp_endpoint = self.idp_token_endpoint
        if idp_endpoint is None:
            idp_endpoint = str((yield from provider.metadata(self.idp_issuer or ""))["token_endpoint"])
        id_jag = yield from provider.token_request(idp_endpoint, {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "requested_token_type": TOKEN_TYPE_ID_JAG,
            "audience": audience,
            "resource": provider.resource or "",
            "scope": " ".join(scopes),
            "subject_token": subject.value,
            "subject_token_type": self.subject_token_type,
        }, client=self.idp_client, step="id_token -> ID-JAG at the IdP")
        if id_jag.issued_token_type != TOKEN_TYPE_ID_JAG:
            raise provider.failed(idp_endpoint, 200, "invalid_response",
                                  f"issued_token_type is {id_jag.issued_token_type!r}, not an ID-JAG",
                                  step="id_token -> ID-JAG at the IdP")
        endpoint = yield from provider.endpoint()
        return (yield from provider.token_request(endpoint, {
            "grant_type": GRANT_JWT_BEARER,
            "assertion": id_jag.value,
        }, step="ID-JAG -> access token at the resource AS"))
