"""``@requires_access_token``: a tool gets a downstream token for the current user as an argument.

Works on plain and ``async`` functions; the token comes from the vault when it is still fresh,
else from the provider's flow (one exchange for concurrent callers). The function receives the
token's value as the keyword argument named by ``into``; nothing else is logged or kept. The
decorated function's signature (``inspect.signature``, what agent frameworks read to describe a
tool to the model) leaves that parameter out.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, cast

from deputy.agent.broker import TokenBroker
from deputy.agent.errors import AuthorizationRequired, ConfigurationError

__all__ = ["default_broker", "requires_access_token", "set_default_broker"]

P = ParamSpec("P")
R = TypeVar("R")

_DEFAULT: list[TokenBroker] = []


def set_default_broker(broker: TokenBroker) -> None:
    """The broker decorators use when none is given (set once at start-up)."""
    _DEFAULT[:] = [broker]


def default_broker() -> TokenBroker:
    if not _DEFAULT:
        raise ConfigurationError("no TokenBroker: call set_default_broker() or pass broker=")
    return _DEFAULT[0]


def requires_access_token(
    *,
    provider: str,
    scopes: Iterable[str] | None = None,
    into: str = "access_token",
    broker: TokenBroker | None = None,
    on_auth_url: Callable[[str], object] | None = None,
) -> Callable[[Callable[P, R]], Callable[..., R]]:
    """Inject a token from ``provider`` (for ``scopes``, default the provider's) as ``into=``.

    The user is the current request's (:func:`~deputy.agent.context.current_user_token`); a
    flow that needs a user raises :class:`~deputy.agent.errors.NoUserToken` outside one. For
    user federation, ``on_auth_url`` is called with the authorization URL to show the user before
    :class:`~deputy.agent.errors.AuthorizationRequired` is raised.
    """
    wanted = None if scopes is None else tuple(scopes)
    if not into.isidentifier():
        raise ConfigurationError(f"into={into!r} is not a parameter name")

    def decorate(function: Callable[P, R]) -> Callable[..., R]:
        signature = inspect.signature(function)
        if into not in signature.parameters:
            raise ConfigurationError(f"{function.__qualname__} has no parameter {into!r} to receive the token")
        # What agent frameworks read to build the tool's schema for the model: without the token
        # parameter, so the model is never asked for it (and a value it sends is overwritten).
        public = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != into])

        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    token = await (broker or default_broker()).aget_token(provider, wanted)
                except AuthorizationRequired as exc:
                    if on_auth_url is not None:
                        on_auth_url(exc.authorization_url)
                    raise
                kwargs[into] = token.value
                return await function(*args, **kwargs)

            awrapper.__signature__ = public  # type: ignore[attr-defined]
            awrapper.__annotations__ = {k: v for k, v in function.__annotations__.items() if k != into}
            return cast(Callable[..., R], awrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            try:
                token = (broker or default_broker()).get_token(provider, wanted)
            except AuthorizationRequired as exc:
                if on_auth_url is not None:
                    on_auth_url(exc.authorization_url)
                raise
            kwargs[into] = token.value
            return function(*args, **kwargs)

        wrapper.__signature__ = public  # type: ignore[attr-defined]
        wrapper.__annotations__ = {k: v for k, v in function.__annotations__.items() if k != into}
        return wrapper

    return decorate
