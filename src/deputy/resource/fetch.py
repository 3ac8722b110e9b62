"""The resource SDK's only I/O: bounded HTTP exchanges with the authorization server.

Requests are built and answers read without I/O (:func:`get_request`, :func:`read_json`); two thin
senders run them on an ``httpx.Client`` or an ``httpx.AsyncClient``. Bounded in time (the request
timeout), in size (:data:`MAX_DOCUMENT_BYTES`) and in where they go: https only (http on the
loopback interface, for development and tests) and redirects are never followed, so the
configured URL is the one the keys come from.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "FetchError",
    "asend",
    "check_url",
    "form_request",
    "get_request",
    "read_json",
    "send",
]

MAX_DOCUMENT_BYTES = 512 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class FetchError(Exception):
    """The exchange failed; the message is private detail for logs."""


def check_url(url: str) -> str | None:
    """Why ``url`` may not be used, or None if it may."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if not parts.scheme or not parts.netloc or parts.fragment:
        return "must be an absolute URL without a fragment"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return None
    return "must use https (http only on the loopback interface)"


def get_request(url: str, *, timeout: float) -> httpx.Request:
    return httpx.Request("GET", url, headers={"Accept": "application/json"}, extensions=_timeout(timeout))


def _timeout(timeout: float) -> dict[str, Any]:
    return {"timeout": httpx.Timeout(timeout).as_dict()}


def form_request(url: str, data: dict[str, str], headers: dict[str, str], *, timeout: float) -> httpx.Request:
    return httpx.Request(
        "POST", url, data=data, headers={"Accept": "application/json", **headers}, extensions=_timeout(timeout)
    )


def read_json(request: httpx.Request, status: int, body: bytes) -> dict[str, Any]:
    """The JSON object of a 200 answer, or :class:`FetchError` saying what was wrong."""
    what = f"{request.method} {request.url}"
    if status != 200:
        raise FetchError(f"{what}: HTTP {status}")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FetchError(f"{what}: not JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"{what}: not a JSON object")
    return document


def _checked(request: httpx.Request) -> None:
    problem = check_url(str(request.url))
    if problem is not None:
        raise FetchError(f"{request.url} {problem}")


def send(client: httpx.Client | None, request: httpx.Request, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> dict[str, Any]:
    """Send ``request`` on ``client`` (a short-lived client when None); return the JSON object."""
    _checked(request)
    own = client is None
    active = httpx.Client() if client is None else client
    try:
        response = active.send(request, stream=True, follow_redirects=False)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"{request.method} {request.url}: larger than {max_bytes} bytes")
        finally:
            response.close()
    except httpx.HTTPError as exc:
        raise FetchError(f"{request.method} {request.url}: {exc.__class__.__name__}") from None
    finally:
        if own:
            active.close()
    return read_json(request, response.status_code, bytes(body))


async def asend(
    client: httpx.AsyncClient | None, request: httpx.Request, *, max_bytes: int = MAX_DOCUMENT_BYTES
) -> dict[str, Any]:
    """:func:`send` for an ``httpx.AsyncClient``."""
    _checked(request)
    own = client is None
    active = httpx.AsyncClient() if client is None else client
    try:
        response = await active.send(request, stream=True, follow_redirects=False)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"{request.method} {request.url}: larger than {max_bytes} bytes")
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        raise FetchError(f"{request.method} {request.url}: {exc.__class__.__name__}") from None
    finally:
        if own:
            await active.aclose()
    return read_json(request, response.status_code, bytes(body))
