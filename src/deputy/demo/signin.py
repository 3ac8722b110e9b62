"""A user signs in to the agent's front end at Deputy: authorization code + PKCE (S256), for real.

What a browser and the agent's app do, over HTTP: open ``/authorize``, fill in Deputy's sign-in
form and consent page (with their CSRF tokens), follow the redirect to the registered callback
(not served: the code is read from the ``Location`` header, as a native app does), then redeem the
code with the PKCE verifier and the client's credentials. The access token that comes back has
``sub`` = the user and ``aud`` = the agent (no ``resource``: docs/sign-in.md).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

__all__ = ["SignInFailed", "SignedIn", "sign_in"]


class SignInFailed(Exception):
    """The sign-in did not complete; ``str()`` says at which step."""


@dataclass(frozen=True)
class SignedIn:
    username: str
    access_token: str = field(repr=False)
    scope: str
    expires_in: int


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _form(page: httpx.Response, step: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    if page.status_code != 200 or action is None:
        raise SignInFailed(f"{step}: Deputy answered {page.status_code} without a form")
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    return html.unescape(action.group(1)), fields


def sign_in(issuer: str, username: str, password: str, *, client_id: str, client_secret: str,
            redirect_uri: str, timeout: float = 10.0) -> SignedIn:
    """Sign ``username`` in at ``issuer`` for ``client_id``; returns the user's access token."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid profile", "state": state, "nonce": secrets.token_urlsafe(16),
        "code_challenge": _challenge(verifier), "code_challenge_method": "S256",
    })
    with httpx.Client(base_url=issuer, follow_redirects=False, timeout=timeout) as browser:
        action, fields = _form(browser.get(f"/authorize?{query}"), "sign-in page")
        answer = browser.post(action, data={**fields, "username": username, "password": password})
        if answer.status_code == 200 and 'name="decision"' in answer.text:  # the consent page
            action, fields = _form(answer, "consent page")
            answer = browser.post(action, data={**fields, "decision": "approve"})
        location = answer.headers.get("location", "")
        if answer.status_code not in (302, 303) or not location.startswith(redirect_uri):
            raise SignInFailed(f"sign-in of {username}: Deputy answered {answer.status_code}, no redirect")
        returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if returned.get("state") != state or "code" not in returned:
            raise SignInFailed(f"sign-in of {username}: {returned.get('error', 'no code in the redirect')}")
        token = browser.post("/token", auth=(client_id, client_secret), data={
            "grant_type": "authorization_code", "code": returned["code"], "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        })
    if token.status_code != 200:
        raise SignInFailed(f"code redemption for {username}: {token.status_code} {token.json().get('error')}")
    body = token.json()
    return SignedIn(username, str(body["access_token"]), str(body.get("scope", "")), int(body.get("expires_in", 0)))
