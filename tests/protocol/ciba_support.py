"""Helpers for the human-approval tests (OpenID CIBA, poll mode), without HTTP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deputy.constants import GRANT_CIBA
from deputy.protocol.backchannel_ports import BackchannelRequest
from deputy.protocol.response import Response
from deputy.protocol.sign_in_ports import opaque_hash
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS
from tests.helpers import form

APPROVAL_SCOPE = "incidents:write"


def require_approval(deputy: Deputy, *scopes: str, resource: str = INCIDENTS) -> None:
    """Mark ``scopes`` of the resource as needing the user's approval."""
    current = deputy.store.realm.get_resource(resource)
    assert current is not None
    deputy.admin("test").put_resource(replace(current, approval_scopes=scopes or (APPROVAL_SCOPE,)))


def bc_authorize(deputy: Deputy, auth: tuple[str, str] | None = AGENT, **params: Any) -> Response:
    values: dict[str, Any] = {"login_hint": "jane", "scope": "openid incidents:write", "resource": INCIDENTS,
                              "binding_message": "Close incident INC-42"}
    values.update(params)
    return deputy.backchannel.handle(form({k: v for k, v in values.items() if v is not None}, auth))


def poll(deputy: Deputy, auth_req_id: str, auth: tuple[str, str] | None = AGENT) -> Response:
    return deputy.token.handle(form({"grant_type": GRANT_CIBA, "auth_req_id": auth_req_id}, auth))


def stored(deputy: Deputy, auth_req_id: str) -> BackchannelRequest:
    for request in deputy.store.backchannel.list_requests():
        if request.auth_req_hash == opaque_hash(auth_req_id):
            return request
    raise AssertionError("no stored request for this auth_req_id")
