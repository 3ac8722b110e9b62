"""Helpers shared by the protocol-level tests (no HTTP)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import replace
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from deputy.audit import AuditEvent
from deputy.constants import CLIENT_ASSERTION_TYPE_JWT_BEARER, TYP_ACCESS_TOKEN
from deputy.errors import OAuthError
from deputy.jose import peek_claims
from deputy.protocol.ports import TokenRecord
from deputy.protocol.response import Response
from deputy.realm import Agent, AgentStatus, ResourceGrant
from deputy.runtime import Deputy
from tests.conftest import ACCESS_TOKEN_TYPE, AGENT, INCIDENTS, TOKEN_EXCHANGE
from tests.helpers import form

Params = dict[str, str | list[str]]


def user_token(deputy: Deputy, user: str = "jane", client_id: str = "incident-agent", **kwargs: Any) -> str:
    """A user's access token issued to ``client_id`` (the development stand-in for sign-in)."""
    return deputy.admin("test").issue_user_token(user, client_id, **kwargs)


def exchange_params(subject_token: str, **params: str | list[str]) -> Params:
    out: Params = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    if "resource" not in params and "audience" not in params:
        out["resource"] = INCIDENTS
    out.update(params)
    return out


def exchange(
    deputy: Deputy, subject_token: str, auth: tuple[str, str] | None = AGENT, **params: str | list[str]
) -> Response:
    return deputy.token.handle(form(exchange_params(subject_token, **params), auth))


def client_credentials(deputy: Deputy, auth: tuple[str, str], **params: str | list[str]) -> Response:
    return deputy.token.handle(form({"grant_type": "client_credentials", **params}, auth))


def header_of(token: str) -> dict[str, Any]:
    return peek_claims(token)[0]


def claims_of(token: str) -> dict[str, Any]:
    return peek_claims(token)[1]


def events(deputy: Deputy, type_: str | None = None) -> list[AuditEvent]:
    return [r.event for r in deputy.store.audit.records() if type_ is None or r.event.type == type_]


def assert_refused(deputy: Deputy, error: OAuthError, code: str, reason: str) -> AuditEvent:
    """The error has the exact OAuth code and reason, and the refusal was audited as such."""
    assert error.error == code, f"error {error.error!r} ({error.reason}), expected {code!r}"
    assert error.reason == reason, f"reason {error.reason!r}, expected {reason!r}"
    refused = events(deputy, "token.refused")
    assert refused, "no token.refused audit event was recorded"
    last = refused[-1]
    assert last.outcome == "failure"
    assert last.error == code
    assert last.reason == reason
    return last


def introspect(deputy: Deputy, token: str, auth: tuple[str, str] = AGENT) -> dict[str, Any]:
    return deputy.introspection.handle(form({"token": token}, auth)).body


def is_active(deputy: Deputy, token: str) -> bool:
    body = introspect(deputy, token)
    assert body["active"] in (True, False)
    if not body["active"]:
        assert body == {"active": False}
    return bool(body["active"])


def add_agent(
    deputy: Deputy,
    client_id: str,
    grants: dict[str, tuple[str, ...]],
    *,
    subject_groups: tuple[str, ...] = ("it", "hr"),
    may_impersonate: bool = False,
    status: AgentStatus = AgentStatus.ACTIVE,
) -> tuple[str, str]:
    """Create an agent with a fresh secret; returns its (client_id, secret)."""
    agent = Agent(
        client_id=client_id,
        status=status,
        may_impersonate=may_impersonate,
        subject_groups=subject_groups,
        resource_grants=tuple(ResourceGrant(r, s) for r, s in grants.items()),
    )
    issued = deputy.admin("test").create_agent(agent)
    assert issued is not None
    return client_id, issued.secret.reveal()


def set_grants(deputy: Deputy, client_id: str, grants: dict[str, tuple[str, ...]]) -> None:
    admin = deputy.admin("test")
    agent = admin.get_agent(client_id)
    admin.update_agent(replace(agent, resource_grants=tuple(ResourceGrant(r, s) for r, s in grants.items())))


def forge_own_token(
    deputy: Deputy,
    claims: dict[str, Any],
    *,
    typ: str = TYP_ACCESS_TOKEN,
    alg: str = "ES256",
    mode: str | None = "delegation",
    actors: tuple[str, ...] = (),
    parent_jti: str | None = None,
) -> str:
    """Sign ``claims`` with the server's own key ring and (unless ``mode`` is None) record a
    lineage entry for it, as if Deputy had issued it."""
    token = deputy.store.keys.key_ring().sign(claims, typ=typ, alg=alg)
    if mode is not None:
        now = deputy.store.clock.now()
        aud = claims.get("aud")
        record = TokenRecord(
            jti=claims["jti"], subject=claims["sub"], client_id=claims["client_id"], grant_type=TOKEN_EXCHANGE,
            mode=mode, issued_at=now, expires_at=int(claims["exp"]),
            audience=(aud,) if isinstance(aud, str) else tuple(aud or ()),
            scope=tuple(str(claims.get("scope", "")).split()), actors=actors, parent_jti=parent_jti,
        )
        event = AuditEvent(type="token.issued", client_id=record.client_id, subject=record.subject, jti=record.jti)
        deputy.store.tokens.record_issuance(record, event)
    return token


def base_claims(deputy: Deputy, **overrides: Any) -> dict[str, Any]:
    now = deputy.store.clock.now()
    claims: dict[str, Any] = {
        "iss": deputy.settings.issuer,
        "sub": "jane",
        "aud": "triage-agent",
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": secrets.token_urlsafe(12),
        "client_id": "incident-agent",
    }
    claims.update(overrides)
    return claims


# -- private_key_jwt ---------------------------------------------------------------------------

def new_client_key(kid: str = "k1", alg: str = "ES256") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg}, private=True)


def register_key(deputy: Deputy, client_id: str, key: ECKey) -> None:
    deputy.admin("test").add_key(client_id, key.as_dict(private=False))


def client_assertion(
    key: ECKey,
    client_id: str,
    aud: str | list[str],
    now: int,
    *,
    lifetime: int = 60,
    jti: Any = "auto",
    header: dict[str, Any] | None = None,
    **extra: Any,
) -> str:
    claims: dict[str, Any] = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + lifetime}
    if jti is not None:
        claims["jti"] = secrets.token_urlsafe(12) if jti == "auto" else jti
    claims.update(extra)
    hdr = {"alg": "ES256", "kid": key.kid}
    hdr.update(header or {})
    return jwt.encode(hdr, claims, key, algorithms=[hdr["alg"]])


def assertion_params(assertion: str) -> Params:
    return {"client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER, "client_assertion": assertion}


# -- hand-made JWTs that joserfc refuses to produce ---------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{c}.{b64url(signature)}"


def hs256_jwt(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{h}.{c}".encode(), hashlib.sha256).digest()
    return f"{h}.{c}.{b64url(mac)}"
