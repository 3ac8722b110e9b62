"""The one place where errors become HTTP responses. No stack trace ever reaches a client."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from deputy.errors import (
    AdminError,
    DeputyError,
    InsufficientScope,
    InvalidClient,
    InvalidToken,
    OAuthError,
)
from deputy.protocol.response import NO_STORE

log = logging.getLogger("deputy.http")


def render_error(error: DeputyError, request: Request | None = None) -> JSONResponse:
    headers = dict(NO_STORE)
    if isinstance(error, InvalidClient):
        # RFC 6749 §5.2: 401 with WWW-Authenticate matching the scheme the client used.
        headers["WWW-Authenticate"] = 'Basic realm="deputy", error="invalid_client"'
    if isinstance(error, (InvalidToken, InsufficientScope)):
        # RFC 6750 §3: a protected resource (the userinfo endpoint) answers with a Bearer challenge.
        headers["WWW-Authenticate"] = f'Bearer realm="deputy", error="{error.error}"'
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, AdminError) and error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="deputy-admin"'
    body: dict[str, str] = {"error": error.error, "error_description": error.description}
    if not isinstance(error, OAuthError):
        body["reason"] = error.reason
    return JSONResponse(body, status_code=error.status_code, headers=headers)


async def deputy_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeputyError)  # noqa: S101 - registered for DeputyError only
    if exc.status_code >= 500:
        log.error("%s %s -> %s", request.method, request.url.path, exc)
    return render_error(exc, request)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": "server_error", "error_description": "The server encountered an unexpected condition."},
        status_code=500,
        headers=dict(NO_STORE),
    )


_HTTP_TEXT = {404: "Not found.", 405: "Method not allowed."}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors (404, 405) in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    headers = dict(exc.headers or {})
    return JSONResponse(
        {"error": "invalid_request", "error_description": _HTTP_TEXT.get(exc.status_code, "Bad request.")},
        status_code=exc.status_code,
        headers=headers,
    )
