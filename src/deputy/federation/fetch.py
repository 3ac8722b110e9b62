"""One bounded HTTP GET of a JSON document (a discovery document or a JWKS).

Bounded in time (connect and read timeouts), in size, and in where it goes: https only (http on
the loopback interface, for development and tests), and redirects are not followed, so that the
configured URL is the one the keys come from.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from deputy.protocol.ports import KeysUnavailable

MAX_DOCUMENT_BYTES = 512 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_fetch_url(url: str) -> str | None:
    """Why ``url`` may not be fetched, or None if it may."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc or parts.fragment:
        return "must be an absolute URL without a fragment"
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return None
    return "must use https (http only on the loopback interface)"


def get_json(
    url: str, *, timeout: float, transport: httpx.BaseTransport | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> dict[str, Any]:
    """GET ``url`` and return its JSON object, or raise :class:`KeysUnavailable` saying why."""
    problem = check_fetch_url(url)
    if problem is not None:
        raise KeysUnavailable(f"{url}: {problem}")
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, transport=transport) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise KeysUnavailable(f"GET {url}: HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise KeysUnavailable(f"GET {url}: larger than {max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise KeysUnavailable(f"GET {url}: {exc.__class__.__name__}") from None
    try:
        document = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError):
        raise KeysUnavailable(f"GET {url}: not JSON") from None
    if not isinstance(document, dict):
        raise KeysUnavailable(f"GET {url}: not a JSON object")
    return document
