"""Wire-level helpers shared by the HTTP tests."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote_plus

from httpx import Response

from deputy.errors import PUBLIC_TEXT
from tests.conftest import ACCESS_TOKEN_TYPE, ADMIN_TOKEN, TOKEN_EXCHANGE

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FORM = "application/x-www-form-urlencoded"

# What must never reach a client: Python internals, file paths, stack frames.
_LEAK_PATTERNS = (
    re.compile(r"Traceback", re.IGNORECASE),
    re.compile(r'File "'),
    re.compile(r"\.py\b"),
    re.compile(r"/work/|/usr/|site-packages|/tmp/"),
    re.compile(r"\b(?:ValueError|TypeError|KeyError|AttributeError|UnicodeDecodeError|binascii|sqlalchemy)\b"),
)


def basic(client_id: str, secret: str) -> dict[str, str]:
    """client_secret_basic as RFC 6749 §2.3.1 says: form-urlencode each part, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def assert_no_leak(response: Response, *private: str) -> None:
    text = response.text
    for pattern in _LEAK_PATTERNS:
        assert not pattern.search(text), f"{pattern.pattern!r} leaked into {text!r}"
    for item in private:
        assert item not in text, f"private detail {item!r} leaked into {text!r}"


def assert_oauth_error(response: Response, status: int, error: str, reason: str | None = None) -> dict[str, Any]:
    """An RFC 6749 §5.2 error: exactly error + error_description, fixed public text, no-store."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("cache-control") == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert body["error_description"] in PUBLIC_TEXT.values(), body
    if reason is not None:
        assert body["error_description"] == PUBLIC_TEXT[reason], body
    if status == 401:
        assert "invalid_client" in response.headers.get("www-authenticate", ""), response.headers
    assert_no_leak(response)
    return body


def user_token(client: Any, username: str, client_id: str, scopes: list[str] | None = None, **extra: Any) -> str:
    payload: dict[str, Any] = {"client_id": client_id, **extra}
    if scopes is not None:
        payload["scopes"] = scopes
    r = client.post(f"/admin/users/{username}/tokens", json=payload, headers=ADMIN)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert isinstance(token, str) and token.count(".") == 2
    return token


def exchange(
    client: Any, auth: tuple[str, str], subject_token: str, *, audience: str | None = None,
    resource: str | None = None, scope: str | None = None,
) -> Response:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE}
    if audience is not None:
        data["audience"] = audience
    if resource is not None:
        data["resource"] = resource
    if scope is not None:
        data["scope"] = scope
    return client.post("/token", data=data, headers=basic(*auth))


def exchanged(client: Any, auth: tuple[str, str], subject_token: str, **kwargs: Any) -> str:
    r = exchange(client, auth, subject_token, **kwargs)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert isinstance(token, str)
    return token


def introspect(client: Any, auth: tuple[str, str], token: str) -> dict[str, Any]:
    r = client.post("/introspect", data={"token": token}, headers=basic(*auth))
    assert r.status_code == 200, r.text
    assert r.headers.get("cache-control") == "no-store"
    body: dict[str, Any] = r.json()
    return body
