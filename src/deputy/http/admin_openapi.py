"""The admin API's OpenAPI 3.1 document, served at ``GET /admin/openapi.json`` (admin token).

Maintained by hand next to the routes; a test compares it with ``admin_routes`` both ways, so
it cannot drift. Request bodies describe the fields the parsers read (``deputy.admin.schema``);
anything else the server refuses with 400 ``invalid_input``.
"""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_STRS = {"type": "array", "items": _STR}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_USER = _obj({"username": _STR, "display_name": _STR, "email": _STR, "groups": _STRS, "disabled": _BOOL},
             ("username",))
_GROUP = _obj({"name": _STR, "description": _STR}, ("name",))
_RESOURCE = _obj({"identifier": _STR, "name": _STR, "scopes": _STRS, "token_ttl": _INT, "signing_alg": _STR},
                 ("identifier",))
_ENTITLEMENT = _obj({"group": _STR, "resource": _STR, "scopes": _STRS}, ("group", "resource"))
_AGENT = _obj(
    {
        "client_id": _STR, "name": _STR, "description": _STR, "status": _STR, "may_impersonate": _BOOL,
        "public_client": _BOOL, "audiences": _STRS, "redirect_uris": _STRS,
        "resources": {"type": "array", "items": _obj({"resource": _STR, "scopes": _STRS})},
    },
    ("client_id",),
)
_ISSUER = _obj(
    {
        "issuer": _STR, "discovery_url": _STR, "jwks_uri": _STR, "algorithms": _STRS, "token_types": _STRS,
        "user_claim": _STR, "groups_claim": _STR, "provision": _BOOL, "id_jag": _BOOL,
    },
    ("issuer",),
)
_PARTNER = _obj({"issuer": _STR, "name": _STR, "signing_alg": _STR, "resources": _STRS, "scopes": _STRS}, ("issuer",))
_ANY_OBJECT = {"type": "object"}

# (path, method) -> (summary, request body schema or None, query parameters)
_OPERATIONS: dict[tuple[str, str], tuple[str, dict[str, Any] | None, tuple[str, ...]]] = {
    ("/admin/users", "get"): ("List users", None, ()),
    ("/admin/users", "post"): ("Create or replace a user", _USER, ()),
    ("/admin/users/{username}", "get"): ("Show a user", None, ()),
    ("/admin/users/{username}", "put"): ("Create or replace a user", _USER, ()),
    ("/admin/users/{username}", "delete"): ("Delete a user", None, ()),
    ("/admin/users/{username}/tokens", "post"): (
        "Mint a development access token for a user",
        _obj({"client_id": _STR, "scopes": _STRS, "ttl": _INT, "may_act": _ANY_OBJECT}, ("client_id",)), (),
    ),
    ("/admin/users/{username}/password", "put"): ("Set a user's password", _obj({"password": _STR}, ("password",)), ()),
    ("/admin/users/{username}/password", "post"): ("Set a user's password", _obj({"password": _STR}, ("password",)), ()),
    ("/admin/groups", "get"): ("List groups", None, ()),
    ("/admin/groups", "post"): ("Create or replace a group", _GROUP, ()),
    ("/admin/groups/{name}", "delete"): ("Delete a group", None, ()),
    ("/admin/resources", "get"): ("List resources", None, ()),
    ("/admin/resources", "post"): ("Create or replace a resource", _RESOURCE, ()),
    ("/admin/resources", "put"): ("Create or replace a resource", _RESOURCE, ()),
    ("/admin/resources/{identifier}", "get"): ("Show a resource", None, ()),
    ("/admin/resources/{identifier}", "delete"): ("Delete a resource", None, ()),
    ("/admin/entitlements", "get"): ("List entitlements", None, ()),
    ("/admin/entitlements", "post"): ("Set a group's scopes at a resource", _ENTITLEMENT, ()),
    ("/admin/entitlements", "put"): ("Set a group's scopes at a resource", _ENTITLEMENT, ()),
    ("/admin/agents", "get"): ("List agents", None, ()),
    ("/admin/agents", "post"): ("Register an agent", _AGENT, ()),
    ("/admin/agents/{client_id}", "get"): ("Show an agent", None, ()),
    ("/admin/agents/{client_id}", "put"): ("Update an agent", _AGENT, ()),
    ("/admin/agents/{client_id}", "delete"): ("Delete an agent", None, ()),
    ("/admin/agents/{client_id}/status", "post"): ("Change an agent's status", _obj({"status": _STR}, ("status",)), ()),
    ("/admin/agents/{client_id}/secrets", "post"): (
        "Issue a new client secret", _obj({"grace_seconds": _INT, "replace": _BOOL}), (),
    ),
    ("/admin/agents/{client_id}/keys", "post"): ("Register a public key (JWK)", _ANY_OBJECT, ()),
    ("/admin/agents/{client_id}/keys/{kid}", "delete"): ("Remove a public key", None, ()),
    ("/admin/realm", "get"): ("Export the realm", None, ()),
    ("/admin/realm", "post"): ("Load a realm document", _ANY_OBJECT, ()),
    ("/admin/realm", "put"): ("Load a realm document", _ANY_OBJECT, ()),
    ("/admin/audit", "get"): (
        "Read the audit trail",
        None, ("subject", "agent", "audience", "type", "outcome", "since", "until", "limit", "order"),
    ),
    ("/admin/audit/verify", "get"): ("Verify the audit hash chain", None, ()),
    ("/admin/tokens/{jti}", "get"): ("Show a token and its descendants", None, ()),
    ("/admin/tokens/{jti}/revoke", "post"): ("Revoke a token and its descendants", None, ()),
    ("/admin/consents", "get"): ("List consents", None, ("user", "all")),
    ("/admin/consents/{consent_id}/withdraw", "post"): ("Withdraw a consent", None, ()),
    ("/admin/keys", "get"): ("List signing keys", None, ()),
    ("/admin/keys/rotate", "post"): ("Rotate a signing key", _obj({"alg": _STR, "overlap_seconds": _INT}), ()),
    ("/admin/issuers", "get"): ("List trusted issuers", None, ()),
    ("/admin/issuers", "post"): ("Trust an external issuer", _ISSUER, ()),
    ("/admin/issuers/{issuer}", "get"): ("Show a trusted issuer", None, ()),
    ("/admin/issuers/{issuer}", "delete"): ("Stop trusting an issuer", None, ()),
    ("/admin/partners", "get"): ("List partner authorization servers", None, ()),
    ("/admin/partners", "post"): ("Register a partner authorization server", _PARTNER, ()),
    ("/admin/partners/{issuer}", "get"): ("Show a partner", None, ()),
    ("/admin/partners/{issuer}", "delete"): ("Remove a partner", None, ()),
    ("/admin/openapi.json", "get"): ("This document", None, ()),
}

_ERROR = {"description": "An error", "content": {"application/json": {"schema": _obj(
    {"error": _STR, "error_description": _STR, "reason": _STR}, ("error", "error_description"))}}}


def admin_openapi(issuer: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), (summary, body, query) in _OPERATIONS.items():
        parameters: list[dict[str, Any]] = [
            {"name": part[1:-1], "in": "path", "required": True, "schema": _STR}
            for part in path.split("/") if part.startswith("{")
        ]
        parameters += [{"name": name, "in": "query", "required": False, "schema": _STR} for name in query]
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
                "400": _ERROR, "401": _ERROR, "404": _ERROR, "409": _ERROR, "503": _ERROR,
            },
        }
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Deputy admin API", "version": "1"},
        "servers": [{"url": issuer}],
        "security": [{"admin": []}],
        "components": {"securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


def operations() -> frozenset[tuple[str, str]]:
    """Every (path template, method) the document describes."""
    return frozenset(_OPERATIONS)
