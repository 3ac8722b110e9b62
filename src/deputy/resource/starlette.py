"""Starlette (and FastAPI) integration: protect endpoints, hand the :class:`Principal` to the
handler, answer refusals with the right challenge, serve RFC 9728 metadata.

Three ways in, one behaviour:

- ``@resource.require_scopes("incidents:read")`` on a Starlette endpoint;
- ``Depends(resource.dependency("incidents:read"))`` in FastAPI, with
  ``exception_handlers=resource.exception_handlers`` on the app;
- ``resource.protect(app, "mcp:tools")``: an ASGI middleware around a whole app (an MCP server's
  streamable HTTP app, say) that also serves the metadata document.

Every refusal is a JSON body ``{"error", "error_description"}`` with ``WWW-Authenticate``
challenges carrying ``resource_metadata`` (RFC 9728 §5.1). Requires ``deputy[resource]``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from deputy.resource.challenge import challenges, error_body
from deputy.resource.credentials import Credentials, read_credentials
from deputy.resource.errors import ResourceError
from deputy.resource.metadata import metadata_url_for, protected_resource_metadata
from deputy.resource.principal import Principal
from deputy.resource.verifier import TokenVerifier

__all__ = ["ProtectedResource", "principal_of"]

log = logging.getLogger("deputy.resource")

Endpoint = Callable[[Request], Awaitable[Response]] | Callable[[Request], Response]
Handler = Callable[[Request], Awaitable[Response]]


def principal_of(request: HTTPConnection) -> Principal:
    """The :class:`Principal` an earlier ``require_scopes``/``protect`` put on the request."""
    principal = getattr(request.state, "principal", None)
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

    # -- metadata ----------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The RFC 9728 document."""
        return dict(self._document)

    async def metadata_endpoint(self, request: Request) -> Response:
        return JSONResponse(
            self._document,
            headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
        )

    def routes(self) -> list[Route]:
        """The metadata route, to add to a Starlette app's routes."""
        return [Route(self.metadata_path, self.metadata_endpoint, methods=["GET"])]

    # -- authentication ----------------------------------------------------------------------

    def credentials(self, conn: HTTPConnection) -> Credentials:
        url = f"{self.public_url}{conn.url.path}" if self.public_url else str(conn.url)
        method = conn.scope.get("method", "GET")  # a WebSocket handshake is a GET
        return read_credentials(
            conn.headers.getlist("authorization"), conn.headers.getlist("dpop"), method=method, url=url
        )

    async def authenticate(
        self, conn: HTTPConnection, scopes: Iterable[str] = (), *, introspect: bool = False
    ) -> Principal:
        """Verify the request; put the Principal in ``request.state.principal`` and return it.
        Raises :class:`ResourceError` (with the needed scopes attached, for the challenge)."""
        needed = tuple(scopes)
        try:
            principal = await self.verifier.averify(self.credentials(conn), scopes=needed, introspect=introspect)
        except ResourceError as exc:
            exc.scopes = exc.scopes or needed
            log.info("refused %s %s: %s", conn.scope.get("method", "WS"), conn.url.path, exc)
            raise
        conn.state.principal = principal
        return principal

    def error_response(self, error: ResourceError) -> Response:
        response = JSONResponse(error_body(error), status_code=error.status_code, headers={"Cache-Control": "no-store"})
        dpop = self.verifier.dpop
        for value in challenges(
            error,
            realm=self.realm,
            resource_metadata=self.metadata_url,
            dpop_algs=tuple(dpop.algorithms) if dpop.enabled else (),
            bearer=not dpop.required,
        ):
            response.headers.append("WWW-Authenticate", value)
        return response

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
                return await run_in_threadpool(cast(Callable[[Request], Response], endpoint), request)

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
            response = await self.resource.metadata_endpoint(Request(scope, receive))
            await response(scope, receive, send)
            return
        scope = {**scope, "state": dict(scope.get("state") or {})}  # never write into shared state
        conn = HTTPConnection(scope, receive)
        try:
            await self.resource.authenticate(conn, self.scopes, introspect=self.introspect)
        except ResourceError as exc:
            if scope["type"] == "websocket":
                await WebSocketClose(code=1008)(scope, receive, send)  # policy violation
            else:
                await self.resource.error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)
