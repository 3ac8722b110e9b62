"""client_secret_basic and client_secret_post (RFC 6749 §2.3.1)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from deputy.constants import AUTH_CLIENT_SECRET_BASIC, AUTH_CLIENT_SECRET_POST
from deputy.errors import InvalidClient, InvalidRequest
from deputy.protocol.client_auth.base import AuthenticatedClient, require_active_credentials
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest
from deputy.secret import verify_secret


def _check_secret(ctx: ServerContext, client_id: str, secret: str, method: str) -> AuthenticatedClient:
    agent = require_active_credentials(ctx.realm.get_agent(client_id), client_id, method)
    now = ctx.clock.now()
    for stored in agent.secrets:
        if stored.expires_at is not None and stored.expires_at <= now:
            continue
        if verify_secret(secret, stored.secret_hash):
            return AuthenticatedClient(agent, method)
    raise InvalidClient("client_secret_invalid", f"wrong or expired secret for {client_id!r}")


class ClientSecretBasic:
    name = AUTH_CLIENT_SECRET_BASIC

    def presented(self, request: FormRequest) -> bool:
        return bool(request.authorization) and request.authorization.lower().startswith("basic ")  # type: ignore[union-attr]

    def authenticate(self, request: FormRequest, ctx: ServerContext, endpoint_url: str) -> AuthenticatedClient:
        assert request.authorization is not None  # noqa: S101 - presented() checked it
        try:
            decoded = base64.b64decode(request.authorization[6:].strip(), validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII header value
            raise InvalidClient("client_secret_invalid", "undecodable Basic credentials") from None
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep or not raw_id:
            raise InvalidClient("client_secret_invalid", "Basic credentials without ':'")
        # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        body_id = request.one("client_id")
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("invalid_parameter", "client_id in body differs from Basic credentials")
        return _check_secret(ctx, client_id, secret, self.name)


class ClientSecretPost:
    name = AUTH_CLIENT_SECRET_POST

    def presented(self, request: FormRequest) -> bool:
        return request.one("client_secret") is not None

    def authenticate(self, request: FormRequest, ctx: ServerContext, endpoint_url: str) -> AuthenticatedClient:
        client_id = request.one("client_id")
        secret = request.one("client_secret")
        if client_id is None or secret is None:
            raise InvalidClient("client_secret_invalid", "client_secret without client_id")
        return _check_secret(ctx, client_id, secret, self.name)
