"""One rule for endpoints that audit their refusals (the token and backchannel endpoints): an
OAuth error is audited and re-raised; anything else becomes a ``server_error`` (detail logged,
never sent) and is audited too. A store that is down is logged only: there is nowhere to write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from deputy.errors import DeputyError, OAuthError, ServerError, TemporarilyUnavailable
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Trace

T = TypeVar("T")


def answer_audited(endpoint: str, ctx: ServerContext, trace: Trace, log: logging.Logger, handle: Callable[[], T]) -> T:
    """``handle()``'s result; on failure, audit a ``<endpoint>.refused`` event and raise only
    :class:`OAuthError`."""
    try:
        return handle()
    except Exception as exc:
        raise audited_error(endpoint, ctx, trace, log, exc) from None


def audited_error(endpoint: str, ctx: ServerContext, trace: Trace, log: logging.Logger, exc: Exception) -> OAuthError:
    """The OAuth error to answer ``exc`` with, its refusal audited (blocking: it may write)."""
    if isinstance(exc, OAuthError):
        audit_refusal(endpoint, ctx, trace, log, exc)
        return exc
    if isinstance(exc, DeputyError):  # not an OAuth error: a bug in wiring; never leak it
        log.error("%s endpoint: unexpected %s", endpoint, exc)
        server_error = ServerError("server_error", str(exc))
    else:
        log.error("%s endpoint: unexpected error", endpoint, exc_info=exc)
        server_error = ServerError("server_error", f"{exc.__class__.__name__}: {exc}")
    audit_refusal(endpoint, ctx, trace, log, server_error)
    return server_error


def audit_refusal(endpoint: str, ctx: ServerContext, trace: Trace, log: logging.Logger, error: OAuthError) -> None:
    log.info("%s.refused client=%s error=%s reason=%s detail=%s",
             endpoint, trace.client_id, error.error, error.reason, error.detail)
    if isinstance(error, TemporarilyUnavailable):
        return  # the store is down: there is nowhere to write; the log line above is the record
    if not error.audited:
        return  # a state, not a refusal (a CIBA poll while the user decides): logged only
    event = trace.refused(error)
    if event.type != f"{endpoint}.refused":
        event = replace(event, type=f"{endpoint}.refused")
    try:
        ctx.audit.append(event)
    except DeputyError:
        log.error("could not audit a refused %s request (reason=%s)", endpoint, error.reason)
