"""Bounded GETs of discovery documents and JWKS: scheme, status, size, redirects, timeouts."""

from __future__ import annotations

import httpx
import pytest

from deputy.federation.fetch import check_fetch_url, get_json
from deputy.protocol.ports import KeysUnavailable


def transport(status: int = 200, body: bytes = b'{"keys": []}', headers: dict[str, str] | None = None) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body, headers=headers or {}))


def test_a_json_object() -> None:
    assert get_json("https://idp.example/jwks", timeout=1, transport=transport()) == {"keys": []}


@pytest.mark.parametrize(
    ("url", "ok"),
    [("https://idp.example/jwks", True), ("http://127.0.0.1:8080/jwks", True), ("http://localhost/jwks", True),
     ("http://idp.example/jwks", False), ("ftp://idp.example/jwks", False), ("/jwks", False),
     ("https://idp.example/jwks#frag", False)],
)
def test_where_it_may_go(url: str, ok: bool) -> None:
    assert (check_fetch_url(url) is None) is ok
    if not ok:
        with pytest.raises(KeysUnavailable):
            get_json(url, timeout=1, transport=transport())


@pytest.mark.parametrize("status", [301, 302, 404, 500])
def test_only_200_counts_and_redirects_are_not_followed(status: int) -> None:
    headers = {"location": "https://evil.example/jwks"} if status in (301, 302) else None
    with pytest.raises(KeysUnavailable, match=f"HTTP {status}"):
        get_json("https://idp.example/jwks", timeout=1, transport=transport(status, headers=headers))


@pytest.mark.parametrize("body", [b"<html>", b"[1, 2]", b"\xff\xfe"])
def test_not_a_json_object(body: bytes) -> None:
    with pytest.raises(KeysUnavailable, match="not"):
        get_json("https://idp.example/jwks", timeout=1, transport=transport(body=body))


def test_too_large() -> None:
    body = b'{"keys": [' + b'"x",' * 1000 + b'"x"]}'
    with pytest.raises(KeysUnavailable, match="larger than"):
        get_json("https://idp.example/jwks", timeout=1, transport=transport(body=body), max_bytes=1000)


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ConnectError("refused")])
def test_network_errors(error: httpx.HTTPError) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(KeysUnavailable, match=type(error).__name__):
        get_json("https://idp.example/jwks", timeout=1, transport=httpx.MockTransport(fail))
