"""Entra-style on-behalf-of: the jwt-bearer grant with ``requested_token_use=on_behalf_of``
(SPECS.md §2; RFC 7523 §2.1).

The ``assertion`` is the user's access token that the calling agent received: its ``aud`` must
name the agent (a token issued to another app is refused, the confused-deputy rule). It is read
exactly as a token exchange reads its subject token (Deputy's own, or a trusted issuer's), and the
result is exactly the token the exchange would issue (:mod:`deputy.protocol.grants.delegated`):
``sub`` = the user, ``act`` = the agent, the same decision, the same lineage (a Deputy assertion
is the new token's parent, so revoking it cascades).

Entra's dialect: the target is named inside ``scope`` as ``<resource>/<scope>`` or
``<resource>/.default`` (everything the decision allows), e.g.
``https://incidents.example/incidents:read``. The resource is the longest prefix that is a
registered resource identifier. An RFC 8707 ``resource`` parameter may name it instead, with bare
scopes. All scopes must name one resource. ``openid``, ``profile``, ``email`` and
``offline_access`` (which MSAL adds to every request) are ignored: no ID token and no refresh
token come from an on-behalf-of request here. The response has Entra's shape: ``token_type``,
``scope`` (granted, written as the client wrote them), ``expires_in``, ``ext_expires_in``,
``access_token``.

Errors: a bad assertion is ``invalid_grant`` (RFC 7521 §5.2, pitfall 9), with the same reasons as
a bad subject token; refusals of the decision are ``invalid_grant`` too, except those with an
error of their own (``invalid_target``, ``invalid_scope``, ``unauthorized_client``, and
``invalid_request`` for a chain that is too deep).
"""

from __future__ import annotations

from dataclasses import dataclass

from deputy.constants import GRANT_JWT_BEARER, REQUESTED_TOKEN_USE_OBO, TOKEN_TYPE_BEARER
from deputy.errors import InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.delegated import issue_delegated
from deputy.protocol.grants.external_subject import claimed_issuer, read_external_subject
from deputy.protocol.grants.subject import Subject, read_own_subject
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.request import FormRequest
from deputy.realm import Agent

# Scopes MSAL and Entra clients add to every request; they mean an ID token and a refresh token.
IGNORED_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT_SCOPE = ".default"
# Bounds on the work a scope parameter can cause (each split is a realm lookup): Entra requests
# carry a handful of scopes, and resource identifiers are at most 500 characters.
MAX_SCOPES = 50
MAX_SPLITS = 8
MAX_IDENTIFIER = 500


@dataclass(frozen=True)
class EntraScopes:
    """The ``scope`` parameter read the Entra way."""

    resource: str
    scopes: frozenset[str] | None  # None: ``.default``, everything the decision allows
    prefixed: bool  # the client wrote ``<resource>/<scope>``, so the answer does too
    ignored: tuple[str, ...] = ()


def _split(token: str, known: dict[str, bool], ctx: ServerContext) -> tuple[str, str] | None:
    """``<resource>/<scope>`` with the longest registered resource, or None for a bare scope.
    ``known`` remembers the lookups of this request."""
    cut = len(token)
    for _ in range(MAX_SPLITS):
        cut = token.rfind("/", 0, cut)
        if cut <= 0:
            break
        prefix, name = token[:cut], token[cut + 1 :]
        if not name or len(prefix) > MAX_IDENTIFIER:
            continue
        if prefix not in known:
            known[prefix] = ctx.realm.get_resource(prefix) is not None
        if known[prefix]:
            return prefix, name
    if "://" in token:  # an App ID URI style scope for a resource Deputy does not know
        raise InvalidTarget("target_unknown", f"no resource for scope {token!r}")
    return None


def parse_entra_scopes(request: FormRequest, ctx: ServerContext) -> EntraScopes:
    raw = request.scopes() or frozenset()
    if len(raw) > MAX_SCOPES:
        raise InvalidScope("scope_invalid", f"{len(raw)} scopes; at most {MAX_SCOPES}")
    resources = set(requested_targets(request))
    known: dict[str, bool] = {}
    names: set[str] = set()
    default = prefixed = False
    ignored = []
    for token in sorted(raw):
        if token in IGNORED_SCOPES:
            ignored.append(token)
            continue
        split = _split(token, known, ctx)
        if split is not None:
            resources.add(split[0])
            prefixed = True
            token = split[1]
        if token == DEFAULT_SCOPE:
            default = True
        else:
            names.add(token)
    if len(resources) > 1:
        raise InvalidTarget("target_multiple", f"scopes name {sorted(resources)}: one resource per request")
    if not resources:
        raise InvalidRequest("target_missing", f"no <resource>/<scope> in scope {sorted(raw)} and no resource")
    if default and names:
        raise InvalidScope("scope_invalid", f".default combined with {sorted(names)}")
    return EntraScopes(resources.pop(), None if default or not names else frozenset(names), prefixed, tuple(ignored))


def _read_assertion(assertion: str, agent: Agent, ctx: ServerContext, trace: Trace) -> Subject:
    """The subject-token readers of token exchange; their refusals become ``invalid_grant``."""
    try:
        if claimed_issuer(assertion) in (None, ctx.issuer):
            return read_own_subject(assertion, agent, ctx, trace)
        return read_external_subject(assertion, agent, ctx, trace)
    except InvalidRequest as exc:
        raise InvalidGrant(exc.reason, exc.detail) from None


def issue_on_behalf_of(
    assertion: str, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace
) -> Issued:
    trace.data["dialect"] = "entra_obo"
    entra = parse_entra_scopes(request, ctx)
    trace.scope_requested = tuple(sorted(entra.scopes)) if entra.scopes is not None else None
    trace.audience = (entra.resource,)
    subject = _read_assertion(assertion, client.agent, ctx, trace)
    resource = resolve_target((entra.resource,), ctx)
    data: dict[str, object] = {"dialect": "entra_obo", "requested_token_use": REQUESTED_TOKEN_USE_OBO}
    if entra.scopes is None:
        data["scope_default"] = True
    if entra.ignored:
        data["scope_ignored"] = list(entra.ignored)
    sent = request.one("grant_type")
    if sent != GRANT_JWT_BEARER:
        data["grant_type_sent"] = str(sent)
    issued = issue_delegated(
        ctx, client, subject, resource, requested_scopes=entra.scopes, grant_type=GRANT_JWT_BEARER, trace=trace,
        default_error=InvalidGrant, data=data,
    )
    prefix = f"{resource.identifier}/" if entra.prefixed else ""
    return Issued(
        {
            "token_type": TOKEN_TYPE_BEARER,
            "scope": " ".join(prefix + s for s in issued.granted),
            "expires_in": issued.ttl,
            "ext_expires_in": issued.ttl,
            "access_token": issued.token,
        },
        issued.record,
        issued.event,
    )
