"""ID-JAG redemption: Deputy as the resource's authorization server in cross-app access
(draft-ietf-oauth-identity-assertion-authz-grant, step 2, SPECS.md §3).

The client presents an ID-JAG from a trusted IdP (a trusted issuer with ``id_jag = true``) as the
``assertion`` of the jwt-bearer grant (RFC 7523 §2.1). Validation follows RFC 7521 §5.2 and the
draft: header ``typ`` is ``oauth-id-jag+jwt``; signature with the IdP's published keys and one of
its algorithms (never ``none`` or HMAC); ``iss`` exactly the IdP; ``exp``, ``iat``, ``jti``
present and ``exp`` not past (nor unreasonably far ahead); ``aud`` exactly this server's issuer
(one string, or an array of exactly that one); ``client_id`` equal to the authenticated client;
no ``cnf`` (Deputy does not support DPoP-bound assertions, so a bound one is refused rather than
used as a bearer one). An ID-JAG Deputy issued itself is never redeemed here. Every failure is
``invalid_grant`` (RFC 7521 §5.2, pitfall 9).

The same ID-JAG may be presented again until it expires (the draft lets the client use it in
lieu of a refresh token): no ``jti`` replay check, and never a refresh token (pitfall 10).

The access token is the delegated token every other dialect gets
(:mod:`deputy.protocol.grants.delegated`): ``sub`` = the user the IdP's ``sub`` maps to (the
trusted issuer's ``user_claim`` and provisioning), ``aud`` = the resource, ``client_id`` = the
client, ``act`` = the client as the current actor. The ID-JAG's ``scope`` bounds what is granted
and the request's ``scope`` may narrow it further; the result is echoed. An ``act`` claim in the
ID-JAG is the IdP's statement about who asked there: recorded in the audit event, never nested
(Deputy cannot verify that chain, and the actor it names is this same client). The token lives at
most as long as the ID-JAG.
"""

from __future__ import annotations

from typing import Any

from deputy.constants import GRANT_JWT_BEARER, TOKEN_TYPE_BEARER
from deputy.errors import InvalidGrant, InvalidRequest, InvalidTarget
from deputy.jose import JWTInvalid, peek_claims
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.delegated import issue_delegated
from deputy.protocol.grants.external_subject import check_names_a_user, map_user
from deputy.protocol.grants.subject import Subject
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.ports import KeysUnavailable
from deputy.protocol.request import FormRequest
from deputy.protocol.tokens.external import ExternalToken
from deputy.protocol.tokens.id_jag import assertion_resources, assertion_scopes, verify_id_jag
from deputy.realm import Agent, Resource

_AUDIT_TEXT = 200


def _short(value: str) -> str:
    return value if len(value) <= _AUDIT_TEXT else value[:_AUDIT_TEXT] + "..."


def redeem_id_jag(
    assertion: str, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace
) -> Issued:
    agent = client.agent
    scopes = request.scopes()
    trace.scope_requested = tuple(sorted(scopes)) if scopes is not None else None
    jag = _verified(assertion, client, ctx, trace)
    try:
        check_names_a_user(jag)
        federation = ctx.federation
        if federation is None:  # _verified found a trusted issuer, so there is a federation
            raise InvalidGrant("assertion_invalid", "no federation")
        user = map_user(jag, agent, ctx, federation, trace)
    except InvalidRequest as exc:  # the same reasons as for a subject token, as invalid_grant
        raise InvalidGrant(exc.reason, exc.detail) from None
    resource = _target(request, jag, agent, scopes, ctx)
    jag_scopes = assertion_scopes(jag.claims)
    subject = Subject(
        user=user, expires_at=jag.expires_at,
        # The IdP's scope bounds the grant, as a delegated token's scopes bound an exchange.
        downstream=jag_scopes is not None, scopes=jag_scopes,
    )
    audit: dict[str, Any] = {
        "dialect": "id_jag", "assertion_issuer": jag.issuer.issuer, "assertion_sub": jag.subject,
        "assertion_jti": jag.jti,
    }
    if "act" in jag.claims:
        audit["assertion_act"] = jag.claims["act"]  # informational only (see the module docstring)
    issued = issue_delegated(
        ctx, client, subject, resource, requested_scopes=scopes, grant_type=GRANT_JWT_BEARER, trace=trace,
        default_error=InvalidGrant, data={**audit, **_dialect_note(request)},
    )
    body = {
        "access_token": issued.token,
        "token_type": TOKEN_TYPE_BEARER,
        "expires_in": issued.ttl,
        "scope": " ".join(issued.granted),
    }
    return Issued(body, issued.record, issued.event)


def _dialect_note(request: FormRequest) -> dict[str, str]:
    sent = request.one("grant_type")
    return {} if sent in (None, GRANT_JWT_BEARER) else {"grant_type_sent": str(sent)}


def _verified(assertion: str, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> ExternalToken:
    try:
        header, unverified = peek_claims(assertion)
    except JWTInvalid as exc:
        raise InvalidGrant("assertion_invalid", str(exc)) from None
    iss = unverified.get("iss")
    trace.data["assertion_issuer"] = _short(str(iss))
    # An IdP MUST NOT redeem an ID-JAG it issued itself (§7): the assertion is for another domain.
    if iss == ctx.issuer:
        raise InvalidGrant("assertion_own", "an ID-JAG issued by this server")
    federation = ctx.federation
    trusted = federation.issuers.get_trusted_issuer(iss) if federation is not None and isinstance(iss, str) else None
    if federation is None or trusted is None or not trusted.id_jag:
        raise InvalidGrant("assertion_invalid", f"issuer {_short(str(iss))!r} is not trusted for ID-JAGs")
    kid = header.get("kid")
    try:
        keys = federation.keys.keys_for(trusted, kid if isinstance(kid, str) else None)
    except KeysUnavailable as exc:
        raise InvalidGrant("issuer_unavailable", f"keys of {trusted.issuer}: {exc}") from None
    settings = ctx.settings
    try:
        jag = verify_id_jag(
            assertion, trusted, keys, now=ctx.clock.now(), leeway=settings.clock_leeway,
            max_lifetime=settings.assertion_max_lifetime,
        )
    except JWTInvalid as exc:
        raise InvalidGrant("assertion_invalid", f"{trusted.issuer}: {exc}") from None
    trace.data.update(assertion_sub=_short(str(jag.subject)), assertion_jti=_short(str(jag.jti)))
    aud = jag.claims["aud"]
    # Exactly this server: one string, or a one-element array (an ID-JAG is never multi-audience).
    if aud != ctx.issuer and aud != [ctx.issuer]:
        raise InvalidGrant("assertion_wrong_audience", f"aud {aud!r} is not exactly {ctx.issuer!r}")
    if jag.claims["client_id"] != client.client_id:
        raise InvalidGrant(
            "assertion_not_for_client", f"client_id {jag.claims['client_id']!r} is not {client.client_id!r}"
        )
    if "cnf" in jag.claims:
        # A key-bound ID-JAG needs a DPoP proof; Deputy verifies none, so it cannot be redeemed.
        raise InvalidGrant("assertion_bound", f"cnf {jag.claims['cnf']!r} without a proof")
    return jag


def _target(
    request: FormRequest, jag: ExternalToken, agent: Agent, scopes: frozenset[str] | None, ctx: ServerContext
) -> Resource:
    """The resource: the request's ``resource`` (which must be among the ID-JAG's, if it names
    any), else the ID-JAG's, else the one resource the agent may reach (for the scopes asked)."""
    granted = assertion_resources(jag.claims)
    targets = requested_targets(request)
    if targets and granted and not set(targets) <= set(granted):
        raise InvalidTarget("resource_not_granted", f"resource {list(targets)} is not among {list(granted)}")
    targets = targets or granted
    if not targets:
        wanted = scopes if scopes is not None else assertion_scopes(jag.claims)
        candidates = []
        for grant in agent.resource_grants:
            known = ctx.realm.get_resource(grant.resource)
            if known is not None and (wanted is None or wanted <= frozenset(known.scopes)):
                candidates.append(grant.resource)
        if len(candidates) == 1:
            targets = (candidates[0],)
    return resolve_target(targets, ctx)
