"""Rendering refusals: ``WWW-Authenticate`` challenges (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1)
and the JSON body that goes with them. The one place where a :class:`ResourceError` becomes text.

- No token at all (RFC 6750 §3.1): a challenge without an error code, with ``scope`` and
  ``resource_metadata`` so that an MCP client knows where to get a token and for what.
- ``insufficient_scope`` (403): the ``scope`` the request needs.
- Errors about DPoP, or about a DPoP-bound token sent as Bearer: the ``DPoP`` scheme with ``algs``.
- ``temporarily_unavailable`` (503): no challenge, the client should simply retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from deputy.resource.errors import (
    BEARER,
    DPOP,
    AuthenticationRequired,
    InsufficientScope,
    ResourceError,
    TemporarilyUnavailable,
)

__all__ = ["challenges", "error_body", "www_authenticate"]


def _quoted(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string; control characters are dropped, never passed on."""
    clean = "".join(c for c in value if c == "\t" or 0x20 <= ord(c) < 0x7F)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def www_authenticate(
    error: ResourceError | None = None,
    *,
    scheme: str = BEARER,
    realm: str | None = None,
    scope: Iterable[str] = (),
    resource_metadata: str | None = None,
    algs: Iterable[str] = (),
) -> str:
    """One challenge, e.g. ``Bearer realm="api", error="invalid_token", error_description="..."``.

    The error code and description are included only when ``error`` has a code (RFC 6750 §3.1:
    a request without a token gets none). ``algs`` applies to the DPoP scheme (RFC 9449 §7.1).
    """
    params: list[tuple[str, str]] = []
    if realm:
        params.append(("realm", realm))
    if error is not None and error.error:
        params.append(("error", error.error))
        params.append(("error_description", error.description))
    scopes = " ".join(dict.fromkeys(scope))
    if scopes:
        params.append(("scope", scopes))
    if resource_metadata:
        params.append(("resource_metadata", resource_metadata))
    algorithms = " ".join(algs)
    if scheme == DPOP and algorithms:
        params.append(("algs", algorithms))
    if not params:
        return scheme
    return scheme + " " + ", ".join(f"{name}={_quoted(value)}" for name, value in params)


def challenges(
    error: ResourceError,
    *,
    scopes: Sequence[str] = (),
    realm: str | None = None,
    resource_metadata: str | None = None,
    dpop_algs: Sequence[str] = (),
    bearer: bool = True,
) -> list[str]:
    """The ``WWW-Authenticate`` values for ``error`` (one header field each).

    ``scopes`` are the scopes the request needed; ``dpop_algs`` empty means DPoP is not accepted;
    ``bearer`` False means only DPoP-bound tokens are (so only the DPoP scheme is offered).
    """
    if isinstance(error, TemporarilyUnavailable):
        return []
    needed = tuple(scopes) or error.scopes
    common: dict[str, Any] = {"realm": realm, "resource_metadata": resource_metadata}
    if isinstance(error, AuthenticationRequired):
        out = []
        if bearer or not dpop_algs:
            out.append(www_authenticate(None, scheme=BEARER, scope=needed, **common))
        if dpop_algs:
            out.append(www_authenticate(None, scheme=DPOP, scope=needed, algs=dpop_algs, **common))
        return out
    scope = needed if isinstance(error, InsufficientScope) else ()
    if error.scheme == DPOP and dpop_algs:
        return [www_authenticate(error, scheme=DPOP, scope=scope, algs=dpop_algs, **common)]
    return [www_authenticate(error, scheme=BEARER, scope=scope, **common)]


def error_body(error: ResourceError) -> dict[str, str]:
    """The JSON body of a refusal: the public code and description, never the private detail."""
    body = {"error_description": error.description}
    if error.error:
        body = {"error": error.error, **body}
    return body
