"""ASGI integration (Starlette, FastAPI, an MCP server's app): protect endpoints, hand the
:class:`Principal` to the handler, answer refusals with the right challenge, serve RFC 9728
metadata. Plain ASGI, so it needs no web framework: the SDK stays free of server libraries.

Three ways in, one behaviour:

- ``@resource.require_scopes("incidents:read")`` on a Starlette endpoint;
- ``Depends(resource.dependency("incidents:read"))`` in FastAPI, with
  ``exception_handlers=resource.exception_handlers`` on the app;
- ``resource.protect(app, "mcp:tools")``: an ASGI middleware around a whole app (an MCP server's
  streamable HTTP app, say) that also serves the metadata document.

Every refusal is a JSON body ``{"error", "error_description"}`` with ``WWW-Authenticate``
challenges carrying ``resource_metadata`` (RFC 9728 §5.1). Add the metadata document to a
Starlette app with ``Route(resource.metadata_path, resource.metadata_app)``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import anyio.to_thread

from deputy.resource.challenge import challenges, error_body
from deputy.resource.credentials import Credentials, read_credentials
from deputy.resource.errors import ResourceError
from deputy.resource.metadata import metadata_url_for, protected_resource_metadata
from deputy.resource.principal import Principal
from deputy.resource.verifier import TokenVerifier

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Connection(Protocol):
    """What a framework's request object offers (Starlette's Request and WebSocket do)."""

    @property
    def scope(self) -> Scope: ...


Request = Any  # the framework's request object: anything with an ASGI ``scope``
Response = ASGIApp

__all__ = ["ProtectedResource", "principal_of"]

log = logging.getLogger("deputy.resource")

Endpoint = Callable[[Request], Awaitable[Response]] | Callable[[Request], Response]
Handler = Callable[[Request], Awaitable[Response]]


class JSONResponse:
    """A JSON response as a plain ASGI app; headers may repeat (several challenges)."""

    def __init__(self, body: Any, status_code: int = 200, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.body = json.dumps(body, separators=(",", ":")).encode()
        self.status_code = status_code
        self.headers = [("content-type", "application/json"), *headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})


def _header_values(scope: Scope, name: str) -> list[str]:
    wanted = name.encode("latin-1")
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == wanted]


def _url(scope: Scope) -> str:
    """The request URL as the server saw it (scheme, Host header, path, query)."""
    scheme = scope.get("scheme", "http")
    host = next(iter(_header_values(scope, "host")), "")
    if not host and scope.get("server"):
        server_host, port = scope["server"]
        default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
        host = server_host if port == default else f"{server_host}:{port}"
    path = scope.get("root_path", "") + scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def principal_of(request: Connection) -> Principal:
    """The :class:`Principal` an earlier ``require_scopes``/``protect`` put on the request
    (also ``request.state.principal`` in Starlette and FastAPI)."""
    principal = (request.scope.get("state") or {}).get("principal")
    if not isinstance(principal, Principal):
        raise LookupError("this request was not authenticated by deputy.resource")
    return principal


class ProtectedResource:
    """One protected API: its verifier, its metadata, and the ways to guard its endpoints.

    ``metadata_url`` defaults to the RFC 9728 §3.1 URL of the verifier's audience (which must
    then be an http(s) URL). ``public_url`` (scheme://host[:port]) is how clients reach this
    API when a proxy stands in front of it: DPoP proofs name the URL the client used (``htu``).
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        scopes_supported: Sequence[str] = (),
        realm: str | None = None,
        resource_name: str | None = None,
        resource_documentation: str | None = None,
        resource_signing_algs: Sequence[str] = (),
        metadata_url: str | None = None,
        public_url: str | None = None,
    ) -> None:
        url = metadata_url or metadata_url_for(verifier.audience)
        if url is None:
            raise ValueError(f"give metadata_url: {verifier.audience!r} is not an http(s) URL")
        self.verifier = verifier
        self.realm = realm
        self.metadata_url = url
        self.metadata_path = urlsplit(url).path
        self.public_url = public_url.rstrip("/") if public_url else None
        self._document = protected_resource_metadata(
            verifier,
            scopes_supported=scopes_supported,
            resource_name=resource_name,
            resource_documentation=resource_documentation,
            resource_signing_algs=resource_signing_algs,
        )
        # An object, not a method: Starlette's Route treats a non-function endpoint as ASGI.
        self.metadata_app: ASGIApp = _MetadataDocument(self._document)

    # -- metadata ----------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The RFC 9728 document."""
        return dict(self._document)

    # -- authentication ----------------------------------------------------------------------

    def credentials(self, scope: Scope) -> Credentials:
        url = f"{self.public_url}{scope.get('root_path', '')}{scope['path']}" if self.public_url else _url(scope)
        method = scope.get("method", "GET")  # a WebSocket handshake is a GET
        return read_credentials(
            _header_values(scope, "authorization"), _header_values(scope, "dpop"), method=method, url=url
        )

    async def authenticate(
        self, conn: Connection, scopes: Iterable[str] = (), *, introspect: bool = False
    ) -> Principal:
        """Verify the request; put the Principal in ``request.state.principal`` and return it.
        Raises :class:`ResourceError` (with the needed scopes attached, for the challenge)."""
        needed = tuple(scopes)
        scope = conn.scope
        try:
            principal = await self.verifier.averify(self.credentials(scope), scopes=needed, introspect=introspect)
        except ResourceError as exc:
            exc.scopes = exc.scopes or needed
            log.info("refused %s %s: %s", scope.get("method", "WS"), scope["path"], exc)
            raise
        # Starlette's request.state reads this same dict.
        scope.setdefault("state", {})["principal"] = principal
        return principal

    def error_response(self, error: ResourceError) -> Response:
        dpop = self.verifier.dpop
        values = challenges(
            error,
            realm=self.realm,
            resource_metadata=self.metadata_url,
            dpop_algs=tuple(dpop.algorithms) if dpop.enabled else (),
            bearer=not dpop.required,
        )
        headers = [("Cache-Control", "no-store"), *(("WWW-Authenticate", value) for value in values)]
        return JSONResponse(error_body(error), status_code=error.status_code, headers=headers)

    @property
    def exception_handlers(self) -> Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]]:
        """For ``Starlette(exception_handlers=...)`` / ``FastAPI(exception_handlers=...)``."""

        async def handle(request: Request, exc: Exception) -> Response:
            if not isinstance(exc, ResourceError):  # pragma: no cover - registered for ResourceError only
                raise exc
            return self.error_response(exc)

        return {ResourceError: handle}

    def _check_introspection(self, introspect: bool) -> None:
        if introspect and self.verifier.introspection is None:
            raise ValueError("introspect=True needs a TokenVerifier configured with introspection")

    # -- the three ways in ---------------------------------------------------------------------

    def require_scopes(self, *scopes: str, introspect: bool = False) -> Callable[[Endpoint], Handler]:
        """Decorate a Starlette endpoint: it runs only for a token with every one of ``scopes``;
        ``request.state.principal`` (or :func:`principal_of`) is the caller."""
        self._check_introspection(introspect)

        def decorate(endpoint: Endpoint) -> Handler:
            is_async = inspect.iscoroutinefunction(endpoint)

            @functools.wraps(endpoint)
            async def guarded(request: Request) -> Response:
                try:
                    await self.authenticate(request, scopes, introspect=introspect)
                except ResourceError as exc:
                    return self.error_response(exc)
                if is_async:
                    return await cast(Handler, endpoint)(request)
                return await anyio.to_thread.run_sync(cast(Callable[[Request], Response], endpoint), request)

            return guarded

        return decorate

    def dependency(self, *scopes: str, introspect: bool = False) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency returning the Principal; refusals are raised as
        :class:`ResourceError`, rendered by :attr:`exception_handlers`."""
        self._check_introspection(introspect)

        async def principal(request: Request) -> Principal:
            return await self.authenticate(request, scopes, introspect=introspect)

        return principal

    def protect(self, app: ASGIApp, *scopes: str, introspect: bool = False) -> ASGIApp:
        """Wrap a whole ASGI app: every HTTP request and WebSocket needs a token with ``scopes``;
        the metadata document is served at :attr:`metadata_path` without one."""
        self._check_introspection(introspect)
        return _Protected(app, self, scopes, introspect)


class _Protected:
    def __init__(self, app: ASGIApp, resource: ProtectedResource, scopes: Sequence[str], introspect: bool) -> None:
        self.app = app
        self.resource = resource
        self.scopes = tuple(scopes)
        self.introspect = introspect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        if scope["type"] == "http" and scope["path"] == self.resource.metadata_path and scope["method"] in ("GET", "HEAD"):
            await self.resource.metadata_app(scope, receive, send)
            return
        scope = {**scope, "state": dict(scope.get("state") or {})}  # never write into shared state
        try:
            await self.resource.authenticate(_Scoped(scope), self.scopes, introspect=self.introspect)
        except ResourceError as exc:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # policy violation
            else:
                await self.resource.error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Scoped:
    """A bare scope seen as a :class:`Connection`."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope


class _MetadataDocument:
    """The RFC 9728 document as an ASGI app: ``Route(resource.metadata_path, resource.metadata_app)``."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = dict(document)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await JSONResponse({"error": "invalid_request"}, 405, [("Allow", "GET, HEAD")])(scope, receive, send)
            return
        headers = [("Cache-Control", "public, max-age=3600"), ("Access-Control-Allow-Origin", "*")]
        await JSONResponse(self.document, headers=headers)(scope, receive, send)
