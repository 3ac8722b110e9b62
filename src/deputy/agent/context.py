"""The current request's user token, in a context variable: set for one request, then gone.

:class:`~deputy.agent.InboundAuthorizer` sets it for the duration of each request; outside an
ASGI app use ``with user_token(token): ...``. Context variables follow asyncio tasks and
``contextvars.copy_context()``, so a tool running in a task started by the request sees it, and
another request never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from deputy.agent.token import UserToken

__all__ = ["current_user_token", "user_token"]

_CURRENT: ContextVar[UserToken | None] = ContextVar("deputy_agent_user_token", default=None)


def current_user_token() -> UserToken | None:
    """The user token of the request being served, or None."""
    return _CURRENT.get()


@contextmanager
def user_token(
    token: str | UserToken, *, issuer: str | None = None, subject: str | None = None
) -> Iterator[UserToken]:
    """Make ``token`` the current user token inside the block.

    Give ``issuer`` and ``subject`` only for a token you have verified: the vault then keys
    downstream tokens by them (see :class:`~deputy.agent.token.UserToken`).
    """
    value = token if isinstance(token, UserToken) else UserToken(token, issuer=issuer, subject=subject)
    reset = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(reset)
