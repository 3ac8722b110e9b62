"""The OAuth endpoints and the app factory."""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deputy.errors import DeputyError, InvalidRequest, OAuthError
from deputy.http.admin_api import admin_routes
from deputy.http.console import console_routes
from deputy.http.errors import deputy_error_handler, http_error_handler, unexpected_error_handler
from deputy.http.health import health_routes
from deputy.http.metrics import UNKNOWN, Metrics, MetricsMiddleware, metrics_routes
from deputy.http.oidc_api import oidc_routes
from deputy.http.signin import signin_routes
from deputy.protocol.discovery import server_metadata
from deputy.protocol.request import MAX_BODY_BYTES, FormRequest
from deputy.protocol.response import Response as ProtocolResponse
from deputy.runtime import Deputy

log = logging.getLogger("deputy.http")


def _json(response: ProtocolResponse) -> JSONResponse:
    return JSONResponse(response.body, status_code=response.status, headers=response.headers)


def _ascii_header(value: str | None) -> str | None:
    """Credentials are ASCII (RFC 9110 §11: token68 / auth-params); the server decodes header
    bytes as latin-1. Replace anything else so that such a header is bad credentials (401)
    rather than an error deep inside base64 decoding (500)."""
    if value is None or value.isascii():
        return value
    return value.encode("ascii", "replace").decode("ascii")


async def _read_body(request: Request) -> bytes:
    """Read at most MAX_BODY_BYTES (+1, so that the form parser sees it is too large)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InvalidRequest("request_too_large", f"content-length {declared}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
    return b"".join(chunks)


async def _form(request: Request) -> FormRequest:
    body = await _read_body(request)
    return FormRequest.from_body(
        body,
        request.headers.get("content-type"),
        _ascii_header(request.headers.get("authorization")),
        request.client.host if request.client else None,
    )


def create_app(deputy: Deputy, admin_token: str) -> Starlette:
    settings = deputy.settings

    def metadata(openid: bool) -> dict[str, Any]:
        scopes = {"openid", "profile", "email", "offline_access"}
        scopes.update(s for r in deputy.store.realm.list_resources() for s in r.scopes)
        return server_metadata(
            settings.issuer, deputy.token.grants.grant_types, deputy.token.authenticator.method_names,
            max_chain_depth=settings.max_chain_depth, openid=openid,
            scopes=sorted(scopes), registration=settings.dynamic_registration,
            identity_chaining=deputy.context.chaining is not None,
        )

    metrics = Metrics(deputy) if settings.metrics_enabled else None

    async def token(request: Request) -> Response:
        if metrics is None:
            form = await _form(request)
            return _json(await run_in_threadpool(deputy.token.handle, form))
        grant = UNKNOWN
        try:
            form = await _form(request)
            grant = metrics.grant_label(form)
            response = await run_in_threadpool(deputy.token.handle, form)
        except OAuthError as error:
            metrics.token_answered(grant, error)
            raise
        metrics.token_answered(grant, None)
        return _json(response)

    async def introspect(request: Request) -> Response:
        form = await _form(request)
        return _json(await run_in_threadpool(deputy.introspection.handle, form))

    async def revoke(request: Request) -> Response:
        form = await _form(request)
        return _json(await run_in_threadpool(deputy.revocation.handle, form))

    async def bc_authorize(request: Request) -> Response:
        form = await _form(request)
        return _json(await run_in_threadpool(deputy.backchannel.handle, form))

    async def jwks(request: Request) -> Response:
        ring = await run_in_threadpool(deputy.store.keys.key_ring)
        return JSONResponse(ring.public_jwks(), headers={"Cache-Control": "public, max-age=300"})

    async def oauth_metadata(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(metadata, False))

    async def openid_metadata(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(metadata, True))

    routes = [
        Route("/.well-known/oauth-authorization-server", oauth_metadata),
        Route("/.well-known/openid-configuration", openid_metadata),
        Route("/jwks", jwks),
        Route("/token", token, methods=["POST"]),
        Route("/introspect", introspect, methods=["POST"]),
        Route("/revoke", revoke, methods=["POST"]),
        Route("/bc-authorize", bc_authorize, methods=["POST"]),
        *health_routes(deputy),
        *(metrics_routes(metrics, settings.metrics_token) if metrics is not None else []),
        *signin_routes(deputy),
        *oidc_routes(deputy),
        *admin_routes(deputy, admin_token),
        *console_routes(deputy),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)] if metrics is not None else [],
        exception_handlers={
            DeputyError: deputy_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.deputy = deputy
    return app
