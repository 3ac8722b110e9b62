"""A person at a browser: the sign-in flow of the seed's get_id_token.py (authorization code +
PKCE), with the sign-in and consent forms filled in over HTTP (CSRF token parsed from the page)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

REDIRECT = "http://127.0.0.1:8400/callback"  # incident-agent's redirect URI in the dev realm


def _field(page: httpx.Response, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert match, f"{name} not in page: {page.text[:500]}"
    return html.unescape(match.group(1))


def _action(page: httpx.Response) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert match, page.text[:500]
    return html.unescape(match.group(1))


def sign_in(
    server: str, client_id: str, client_secret: str, username: str, password: str, scope: str = "openid profile email"
) -> dict[str, Any]:
    """Sign ``username`` in at ``server`` for ``client_id``; returns the token response."""
    meta = httpx.get(f"{server}/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    url = meta["authorization_endpoint"] + "?" + urlencode({
        "client_id": client_id, "response_type": "code", "scope": scope, "redirect_uri": REDIRECT,
        "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
    })
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and 'name="password"' in page.text, page.text[:500]
        consent = browser.post(_action(page), data={
            "csrf_token": _field(page, "csrf_token"), "authorize": _field(page, "authorize"),
            "username": username, "password": password,
        })
        if consent.status_code == 303:  # approved before: the grant is remembered
            answer = consent
        else:
            assert consent.status_code == 200 and "Allow" in consent.text, consent.text[:500]
            answer = browser.post(_action(consent), data={
                "csrf_token": _field(consent, "csrf_token"), "authorize": _field(consent, "authorize"),
                "decision": "approve",
            })
        assert answer.status_code == 303, answer.text[:500]
    captured = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    assert captured.get("state") == state, "state mismatch"
    r = httpx.post(meta["token_endpoint"], data={
        "grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
        "code": captured["code"], "redirect_uri": REDIRECT, "code_verifier": verifier,
    }, timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
