"""The client authentication step of every endpoint: exactly one method, or a clear refusal."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus
from typing import Protocol

from deputy.errors import InvalidClient, InvalidRequest
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest
from deputy.realm import Agent


@dataclass(frozen=True)
class AuthenticatedClient:
    agent: Agent
    method: str

    @property
    def client_id(self) -> str:
        return self.agent.client_id


class ClientAuthMethod(Protocol):
    name: str

    def presented(self, request: FormRequest) -> bool:
        """Whether the request carries this method's credentials."""
        ...

    def authenticate(self, request: FormRequest, ctx: ServerContext, endpoint_url: str) -> AuthenticatedClient: ...


class ClientAuthenticator:
    """Tries the registered methods; built-ins register through :meth:`register` like any other."""

    def __init__(self) -> None:
        self._methods: list[ClientAuthMethod] = []

    def register(self, method: ClientAuthMethod) -> None:
        if any(m.name == method.name for m in self._methods):
            raise ValueError(f"client auth method {method.name!r} registered twice")
        self._methods.append(method)

    @property
    def method_names(self) -> list[str]:
        return [m.name for m in self._methods]

    def authenticate(self, request: FormRequest, ctx: ServerContext, endpoint_url: str) -> AuthenticatedClient:
        presented = [m for m in self._methods if m.presented(request)]
        if len(presented) > 1:
            raise InvalidRequest("client_auth_multiple", ", ".join(m.name for m in presented))
        if not presented:
            client_id = request.one("client_id")
            if client_id is not None:
                # A client_id alone is not authentication: every Deputy client is confidential.
                raise InvalidClient("client_secret_missing", f"client {client_id!r} sent no credentials")
            raise InvalidClient("client_auth_missing", "no client authentication")
        return presented[0].authenticate(request, ctx, endpoint_url)


def claimed_client_id(request: FormRequest) -> str | None:
    """Who the request says it is, before authentication (for the audit trail only)."""
    auth = request.authorization or ""
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII header value
            return None
        return unquote_plus(decoded.partition(":")[0]) or None
    try:
        return request.one("client_id")
    except InvalidRequest:
        return None


def require_active_credentials(agent: Agent | None, client_id: str, method: str) -> Agent:
    if agent is None:
        raise InvalidClient("client_unknown", f"unknown client {client_id!r}")
    if method not in agent.auth_methods:
        raise InvalidClient("client_auth_method_not_allowed", f"{client_id!r} has no credentials for {method}")
    return agent


def default_authenticator() -> ClientAuthenticator:
    from deputy.protocol.client_auth.none import NoClientAuthentication
    from deputy.protocol.client_auth.private_key_jwt import PrivateKeyJWT
    from deputy.protocol.client_auth.secret import ClientSecretBasic, ClientSecretPost

    authenticator = ClientAuthenticator()
    authenticator.register(ClientSecretBasic())
    authenticator.register(ClientSecretPost())
    authenticator.register(PrivateKeyJWT())
    authenticator.register(NoClientAuthentication())  # public clients: see client_auth/none.py
    return authenticator
