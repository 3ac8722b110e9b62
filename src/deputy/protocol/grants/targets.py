"""Resolving ``resource`` and ``audience`` parameters to one registered resource (RFC 8707, RFC 8693 §2.1)."""

from __future__ import annotations

from urllib.parse import urlsplit

from deputy.errors import InvalidRequest, InvalidTarget
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest
from deputy.realm import Resource


def requested_targets(request: FormRequest) -> tuple[str, ...]:
    resources = request.many("resource")
    for value in resources:
        parts = urlsplit(value)
        # RFC 8707 §2: an absolute URI without a fragment.
        if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment or "#" in value:
            raise InvalidTarget("target_invalid", f"resource {value!r}")
    return tuple(dict.fromkeys((*resources, *request.many("audience"))))


def resolve_target(targets: tuple[str, ...], ctx: ServerContext) -> Resource:
    """Deputy issues single-audience tokens: one distinct target per request."""
    if not targets:
        raise InvalidRequest("target_missing", "no resource or audience")
    if len(targets) > 1:
        raise InvalidTarget("target_multiple", f"targets {list(targets)}")
    resource = ctx.realm.get_resource(targets[0])
    if resource is None:
        raise InvalidTarget("target_unknown", f"no resource {targets[0]!r}")
    return resource
