"""The OAuth endpoints and the app factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deputy.errors import DeputyError
from deputy.http.admin_api import admin_routes
from deputy.http.console import console_routes
from deputy.http.errors import deputy_error_handler, http_error_handler, unexpected_error_handler
from deputy.http.form_endpoint import FormEndpoint, blocking
from deputy.http.health import health_routes
from deputy.http.metrics import Metrics, MetricsMiddleware, metrics_routes
from deputy.http.oidc_api import oidc_routes
from deputy.http.signin import signin_routes
from deputy.protocol.discovery import server_metadata
from deputy.protocol.request import FormRequest
from deputy.protocol.response import Response as ProtocolResponse
from deputy.runtime import Deputy

log = logging.getLogger("deputy.http")


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

    async def issue_token(form: FormRequest) -> ProtocolResponse:
        # The grant in the thread pool, the durable write awaited on the loop (group commit).
        return await deputy.token.handle_async(form, run_in_threadpool)

    token = FormEndpoint(issue_token, metrics.token_observed if metrics is not None else None)
    introspect = FormEndpoint(blocking(deputy.introspection.handle))
    revoke = FormEndpoint(blocking(deputy.revocation.handle))
    bc_authorize = FormEndpoint(blocking(deputy.backchannel.handle))

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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await deputy.store.tokens.aclose()  # this loop's async PostgreSQL connection, if any
        if metrics is not None:
            metrics.process_exiting()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)] if metrics is not None else [],
        exception_handlers={
            DeputyError: deputy_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.deputy = deputy
    return app
