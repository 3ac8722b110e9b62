"""``InboundAuthorizer``: the agent app's front door, as pure ASGI (no Starlette needed).

Each HTTP request (and WebSocket) must carry the caller's access token, verified by
:class:`deputy.resource.TokenVerifier` (signature, ``typ``, issuer, audience, expiry, scopes),
issued to an allowed client. The verified token then becomes the current user token
(:func:`~deputy.agent.context.current_user_token`) for that request only, and the verified
:class:`~deputy.resource.Principal` is put in ``scope["state"]["principal"]``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

from deputy.agent.context import _CURRENT
from deputy.agent.entra import ENTRA_AUTHORITY, EntraTokenVerifier
from deputy.agent.token import UserToken
from deputy.resource.challenge import challenges, error_body
from deputy.resource.credentials import read_credentials
from deputy.resource.errors import InvalidToken, ResourceError
from deputy.resource.principal import Principal
from deputy.resource.verifier import TokenVerifier

__all__ = ["InboundAuthorizer"]

log = logging.getLogger("deputy.agent")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class InboundAuthorizer:
    """Wrap an ASGI app: ``app = InboundAuthorizer(app, verifiers=[...], allowed_clients=[...])``.

    ``verifiers`` are tried in order (one per allowed audience); ``allowed_clients`` (the token's
    ``client_id``, empty = any) and ``scopes`` (all required) narrow who may call. Paths in
    ``public_paths`` (e.g. ``/healthz``) pass without a token.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifiers: TokenVerifier | Sequence[TokenVerifier],
        *,
        allowed_clients: Iterable[str] = (),
        scopes: Iterable[str] = (),
        public_paths: Iterable[str] = (),
        realm: str | None = None,
        resource_metadata: str | None = None,
    ) -> None:
        self.app = app
        self.verifiers = (verifiers,) if isinstance(verifiers, TokenVerifier) else tuple(verifiers)
        if not self.verifiers:
            raise ValueError("InboundAuthorizer needs at least one TokenVerifier")
        self.allowed_clients = frozenset(allowed_clients)
        self.scopes = tuple(scopes)
        self.public_paths = frozenset(public_paths)
        self.realm = realm
        self.resource_metadata = resource_metadata

    @classmethod
    def for_issuer(
        cls,
        app: ASGIApp,
        issuer: str,
        audiences: Iterable[str],
        *,
        discovery_url: str | None = None,
        allowed_clients: Iterable[str] = (),
        scopes: Iterable[str] = (),
        public_paths: Iterable[str] = (),
        resource_metadata: str | None = None,
    ) -> InboundAuthorizer:
        """AgentCore's ``customJWTAuthorizer`` in one call: the issuer (keys by its discovery
        document, or ``discovery_url``), the allowed audiences, clients and scopes."""
        verifiers = [TokenVerifier(issuer, audience, discovery_url=discovery_url) for audience in audiences]
        return cls(app, verifiers, allowed_clients=allowed_clients, scopes=scopes, public_paths=public_paths,
                   resource_metadata=resource_metadata)

    @classmethod
    def for_entra(
        cls,
        app: ASGIApp,
        tenant_id: str,
        audiences: Iterable[str],
        *,
        allowed_clients: Iterable[str] = (),
        scopes: Iterable[str] = (),
        public_paths: Iterable[str] = (),
        resource_metadata: str | None = None,
        accept_app_tokens: bool = False,
        authority: str = ENTRA_AUTHORITY,
        **verifier_options: Any,
    ) -> InboundAuthorizer:
        """Entra ID v2 access tokens (``typ: JWT``) of one tenant, for this app's client id and/or
        App ID URI (``audiences``); ``allowed_clients`` are matched against ``azp``, ``scopes``
        against ``scp``. What is accepted, and why an ID token is not: :mod:`deputy.agent.entra`.
        The default constructors accept RFC 9068 tokens (``at+jwt``) only."""
        verifiers = [EntraTokenVerifier(tenant_id, audience, authority=authority, accept_app_tokens=accept_app_tokens,
                                        **verifier_options) for audience in audiences]
        return cls(app, verifiers, allowed_clients=allowed_clients, scopes=scopes, public_paths=public_paths,
                   resource_metadata=resource_metadata)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.public_paths:
            await self.app(scope, receive, send)
            return
        try:
            principal, token = await self.authenticate(scope)
        except ResourceError as exc:
            log.info("refused %s %s: %s", scope.get("method", "WS"), scope.get("path"), exc)
            await self._refuse(scope, send, exc)
            return
        scope = {**scope, "state": {**(scope.get("state") or {}), "principal": principal}}
        reset = _CURRENT.set(UserToken(token, issuer=str(principal.claims["iss"]), subject=principal.user))
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(reset)

    async def authenticate(self, scope: Scope) -> tuple[Principal, str]:
        """The verified caller and their token, or a ``ResourceError``."""
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        authorization = [v.decode("latin-1") for k, v in headers if k.lower() == b"authorization"]
        dpop = [v.decode("latin-1") for k, v in headers if k.lower() == b"dpop"]
        credentials = read_credentials(authorization, dpop, method=scope.get("method", "GET"), url=_url(scope))
        error: ResourceError | None = None
        for verifier in self.verifiers:
            try:
                principal = await verifier.averify(credentials, scopes=self.scopes)
            except InvalidToken as exc:
                error = error or exc  # maybe for the next audience
                continue
            if self.allowed_clients and principal.client_id not in self.allowed_clients:
                raise InvalidToken(f"client {principal.client_id!r} is not allowed here")
            return principal, credentials.token
        raise error or InvalidToken("no verifier accepted the token")

    async def _refuse(self, scope: Scope, send: Send, error: ResourceError) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        error.scopes = error.scopes or self.scopes
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        for value in challenges(error, realm=self.realm, resource_metadata=self.resource_metadata):
            headers.append((b"www-authenticate", value.encode()))
        body = json.dumps(error_body(error)).encode()
        await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _url(scope: Scope) -> str:
    scheme = scope.get("scheme", "http")
    server = scope.get("server") or ("localhost", None)
    host = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k.lower() == b"host"), None)
    netloc = host or (f"{server[0]}:{server[1]}" if server[1] else str(server[0]))
    return f"{scheme}://{netloc}{scope.get('path', '/')}"
