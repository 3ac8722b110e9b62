"""HTML pages: Jinja2 templates (autoescaped), one inline stylesheet, strict security headers,
cookies, and form bodies read without a multipart parser."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from deputy.config import Settings
from deputy.protocol.request import MAX_BODY_BYTES, FormRequest

SESSION_COOKIE = "deputy_session"
SIGNIN_COOKIE = "deputy_signin"  # the sign-in form's CSRF secret, before there is a session


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("deputy.http", "templates"), autoescape=True, auto_reload=False)


@cache
def _stylesheet() -> str:
    return resources.files("deputy.http").joinpath("templates/style.css").read_text(encoding="utf-8")


@cache
def _content_security_policy() -> str:
    """Nothing may load or run but the one inline stylesheet (allowed by its hash); no framing."""
    digest = base64.b64encode(hashlib.sha256(_stylesheet().encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; frame-ancestors 'none'"


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",  # clickjacking: the consent page must never be framed
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(stylesheet=Markup(_stylesheet()), **context)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": _content_security_policy()}
    return HTMLResponse(html, status_code=status, headers=headers)


def redirect(location: str, status: int = 303) -> RedirectResponse:
    response = RedirectResponse(location, status_code=status)
    response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"})
    return response


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    """HttpOnly, SameSite=Lax (sent on the top-level redirects of the flow, never on cross-site
    POSTs), Secure when the issuer is https, scoped to the issuer's path."""
    parts = urlsplit(settings.issuer)
    response.set_cookie(
        name, value, max_age=max_age, path=(parts.path or "") + "/", httponly=True, samesite="lax",
        secure=parts.scheme == "https",
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    parts = urlsplit(settings.issuer)
    response.delete_cookie(name, path=(parts.path or "") + "/", httponly=True, samesite="lax", secure=parts.scheme == "https")


async def read_form(request: Request) -> FormRequest:
    """An HTML form post (application/x-www-form-urlencoded), size-limited like /token."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            break
    return FormRequest.from_body(b"".join(chunks), request.headers.get("content-type"))


def query_pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
