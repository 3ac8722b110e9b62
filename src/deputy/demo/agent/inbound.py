"""The agent's front door, after :class:`deputy.resource.asgi.ProtectedResource` verified the token.

Only a *user's* token may come in: the agent acts for people. A token with no user behind it —
a client-credentials token, whose ``sub`` is the client itself (RFC 9068 §2.2), or one whose
``sub_profile`` names another kind of subject — is refused with 403, whatever it is for. The verified token is then kept in the request's state, so that a tool
can make it the current user token (:func:`acting_for`) while it asks Deputy for downstream tokens;
it is never sent anywhere but to Deputy's token endpoint as the ``subject_token``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from deputy.agent import UserToken, user_token
from deputy.resource import Principal

__all__ = ["USER_REQUIRED", "UserTokensOnly", "acting_for", "is_user_principal"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY = "deputy_demo_user_token"
USER_REQUIRED = {
    "error": "user_token_required",
    "error_description": "This agent acts only for a signed-in user; a token with no user is refused.",
}


def is_user_principal(principal: Principal) -> bool:
    """Whether the token speaks for a user: its ``sub`` is not the client that asked for it (RFC
    9068 §2.2: without a resource owner, ``sub`` names the client), and it does not say that its
    subject is anything but a user (``sub_profile``, which Deputy sets to ``user`` on users' tokens)."""
    if principal.user == principal.client_id:
        return False
    return principal.claims.get("sub_profile") in (None, "user")


class UserTokensOnly:
    """ASGI: wrap the app *inside* ``ProtectedResource.protect`` (which puts the Principal in
    ``scope["state"]``). Refuses non-user tokens; keeps the verified user token for the tools."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        principal = state.get("principal")
        if not isinstance(principal, Principal) or not is_user_principal(principal):
            await _refuse(send)
            return
        token = _bearer(scope)
        state[STATE_KEY] = UserToken(token, issuer=str(principal.claims["iss"]), subject=principal.user)
        scope["state"] = state
        await self.app(scope, receive, send)


@contextmanager
def acting_for(state: Any) -> Iterator[UserToken]:
    """Make the request's verified user token current (for the agent SDK) inside the block.

    ``state`` is the request's ``scope["state"]`` (a dict) or Starlette's ``request.state``.
    """
    held = state.get(STATE_KEY) if isinstance(state, dict) else getattr(state, STATE_KEY, None)
    if not isinstance(held, UserToken):
        raise LookupError("this request carries no verified user token")  # noqa: TRY004 - missing, not mistyped
    with user_token(held) as current:
        yield current


def _bearer(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            return str(value.decode("latin-1").split(None, 1)[-1].strip())
    return ""  # pragma: no cover - ProtectedResource has already required one


async def _refuse(send: Send) -> None:
    body = json.dumps(USER_REQUIRED).encode()
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
