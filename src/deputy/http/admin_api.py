"""The admin HTTP API (JSON), protected by the admin bearer credential."""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from deputy.admin import RealmAdmin
from deputy.admin.issuer_schema import parse_trusted_issuer, trusted_issuer_to_dict
from deputy.admin.partner_schema import parse_partner_server, partner_server_to_dict
from deputy.admin.realm_file import export_realm, load_realm

from deputy.admin.schema import (
    agent_view,
    entitlement_to_dict,
    parse_agent,
    parse_entitlement,
    parse_group,
    parse_resource,
    parse_user,
    resource_to_dict,
    user_to_dict,
)
from deputy.admin.schema import consent_to_dict
from deputy.http.admin_openapi import admin_openapi
from deputy.audit import verify_chain
from deputy.errors import AdminAuthRequired, InvalidInput, NotFound
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter

Handler = Callable[[Request], Awaitable[Response]]


def admin_routes(deputy: Deputy, admin_token: str) -> list[BaseRoute]:
    realm = deputy.store.realm

    def admin() -> RealmAdmin:
        return deputy.admin("admin-api")

    def guarded(fn: Callable[[Request, Any], Any]) -> Handler:
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            # Compare bytes: compare_digest refuses non-ASCII str (headers arrive decoded as latin-1).
            if not given.lower().startswith("bearer ") or not hmac.compare_digest(
                given[7:].strip().encode("utf-8"), admin_token.encode("utf-8")
            ):
                raise AdminAuthRequired("admin_auth_required", "missing or wrong admin token")
            body: Any = None
            if request.method in ("POST", "PUT", "PATCH"):
                raw = await request.body()
                if raw:
                    try:
                        body = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        raise InvalidInput("invalid_input", "body is not JSON", public="The body must be JSON.") from None
            result = await run_in_threadpool(functools.partial(fn, request, body))
            if isinstance(result, Response):
                return result
            return JSONResponse(result, headers={"Cache-Control": "no-store"})

        return endpoint

    def obj(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput("invalid_input", "body must be an object", public="The body must be a JSON object.")
        return body

    def param(request: Request, name: str) -> str:
        # The server has already percent-decoded the path; decoding again would turn an
        # identifier such as "https://api.example/t%2Fa" into a different one.
        return str(request.path_params[name])

    # users and groups
    def list_users(request: Request, body: Any) -> Any:
        return [user_to_dict(u) for u in realm.list_users()]

    def put_user(request: Request, body: Any) -> Any:
        data = obj(body)
        if "username" in request.path_params:
            data = {**data, "username": param(request, "username")}
        return user_to_dict(admin().put_user(parse_user(data)))

    def get_user(request: Request, body: Any) -> Any:
        user = realm.get_user(param(request, "username"))
        if user is None:
            raise NotFound("not_found", "user")
        return user_to_dict(user)

    def delete_user(request: Request, body: Any) -> Any:
        admin().delete_user(param(request, "username"))
        return {"deleted": True}

    def user_token(request: Request, body: Any) -> Any:
        data = obj(body)
        client_id = data.get("client_id")
        scopes = data.get("scopes", ["openid"])
        ttl = data.get("ttl")
        may_act = data.get("may_act")
        if (
            not isinstance(client_id, str)
            or not isinstance(scopes, list)
            or not all(isinstance(s, str) for s in scopes)
            or not (ttl is None or (isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0))
            or not (may_act is None or isinstance(may_act, dict))
        ):
            raise InvalidInput(
                "invalid_input", "token",
                public="Expected client_id (string), scopes (list of strings), ttl (positive integer), "
                "may_act (object).",
            )
        token = admin().issue_user_token(param(request, "username"), client_id, scopes, ttl, may_act)
        return {"access_token": token, "token_type": "Bearer"}

    def list_groups(request: Request, body: Any) -> Any:
        return [{"name": g.name, "description": g.description} for g in realm.list_groups()]

    def put_group(request: Request, body: Any) -> Any:
        group = admin().put_group(parse_group(obj(body)))
        return {"name": group.name, "description": group.description}

    def delete_group(request: Request, body: Any) -> Any:
        admin().delete_group(param(request, "name"))
        return {"deleted": True}

    # resources and entitlements
    def list_resources(request: Request, body: Any) -> Any:
        return [resource_to_dict(r) for r in realm.list_resources()]

    def put_resource(request: Request, body: Any) -> Any:
        return resource_to_dict(admin().put_resource(parse_resource(obj(body))))

    def get_resource(request: Request, body: Any) -> Any:
        resource = realm.get_resource(param(request, "identifier"))
        if resource is None:
            raise NotFound("not_found", "resource")
        return resource_to_dict(resource)

    def delete_resource(request: Request, body: Any) -> Any:
        admin().delete_resource(param(request, "identifier"))
        return {"deleted": True}

    def list_entitlements(request: Request, body: Any) -> Any:
        return [entitlement_to_dict(e) for e in realm.list_entitlements()]

    def put_entitlement(request: Request, body: Any) -> Any:
        return entitlement_to_dict(admin().set_entitlement(parse_entitlement(obj(body))))

    # agents
    def list_agents(request: Request, body: Any) -> Any:
        return [agent_view(a) for a in realm.list_agents()]

    def create_agent(request: Request, body: Any) -> Any:
        data = dict(obj(body))
        if "secret" in data or "secrets" in data:
            raise InvalidInput(
                "invalid_input", "secret in create",
                public="Client secrets are generated by Deputy and returned once; do not send one.",
            )
        keys = data.pop("keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise InvalidInput("invalid_input", "keys", public="'keys' must be a list of public JWKs.")
        for jwk in keys:
            RealmAdmin.check_public_jwk(jwk)
        agent = parse_agent(data)
        issued = admin().create_agent(agent)
        for jwk in keys:
            admin().add_key(agent.client_id, jwk)
        view = agent_view(admin().get_agent(agent.client_id))
        if issued is not None:
            view["client_secret"] = issued.secret.reveal()  # shown once, never again
        return JSONResponse(view, status_code=201, headers={"Cache-Control": "no-store"})

    def get_agent(request: Request, body: Any) -> Any:
        return agent_view(admin().get_agent(param(request, "client_id")))

    def update_agent(request: Request, body: Any) -> Any:
        client_id = param(request, "client_id")
        # The view's credential lists are read-only here: secrets and keys have their own routes.
        data = {k: v for k, v in obj(body).items() if k not in ("secrets", "keys")}
        agent = parse_agent({**data, "client_id": client_id})
        admin().update_agent(agent)
        return agent_view(admin().get_agent(client_id))

    def delete_agent(request: Request, body: Any) -> Any:
        admin().delete_agent(param(request, "client_id"))
        return {"deleted": True}

    def agent_status(request: Request, body: Any) -> Any:
        status = obj(body).get("status")
        try:
            parsed = AgentStatus(str(status))
        except ValueError:
            raise InvalidInput("invalid_input", "status", public=f"status must be one of {[s.value for s in AgentStatus]}") from None
        agent, revoked = admin().set_agent_status(param(request, "client_id"), parsed)
        return {**agent_view(agent), "revoked_tokens": revoked}

    def agent_secret(request: Request, body: Any) -> Any:
        data = obj(body if body is not None else {})
        replace_existing = data.get("replace", False)
        grace = data.get("grace_seconds", 0)
        if not isinstance(replace_existing, bool) or not isinstance(grace, int) or isinstance(grace, bool):
            raise InvalidInput(
                "invalid_input", "secrets body", public="Expected replace (true/false) and grace_seconds (integer)."
            )
        issued = admin().new_secret(param(request, "client_id"), replace_existing=replace_existing, grace_seconds=grace)
        return {"client_id": issued.client_id, "secret_id": issued.secret_id, "client_secret": issued.secret.reveal()}

    def agent_key(request: Request, body: Any) -> Any:
        key = admin().add_key(param(request, "client_id"), obj(body))
        return {"kid": key.kid, "created_at": key.created_at}

    def agent_key_delete(request: Request, body: Any) -> Any:
        admin().remove_key(param(request, "client_id"), param(request, "kid"))
        return {"deleted": True}

    # trusted external issuers (docs/trusted-issuers.md)
    def list_issuers(request: Request, body: Any) -> Any:
        return [trusted_issuer_to_dict(t) for t in deputy.store.issuers.list_trusted_issuers()]

    def put_issuer(request: Request, body: Any) -> Any:
        return trusted_issuer_to_dict(admin().put_issuer(parse_trusted_issuer(obj(body))))

    def get_issuer(request: Request, body: Any) -> Any:
        return trusted_issuer_to_dict(admin().get_issuer(param(request, "issuer")))

    def delete_issuer(request: Request, body: Any) -> Any:
        admin().delete_issuer(param(request, "issuer"))
        return {"deleted": True}

    # partner authorization servers: ID-JAGs for cross-app access (docs/dialects.md)
    def list_partners(request: Request, body: Any) -> Any:
        return [partner_server_to_dict(p) for p in deputy.store.partners.list_partners()]

    def put_partner(request: Request, body: Any) -> Any:
        return partner_server_to_dict(admin().put_partner(parse_partner_server(obj(body))))

    def get_partner(request: Request, body: Any) -> Any:
        return partner_server_to_dict(admin().get_partner(param(request, "issuer")))

    def delete_partner(request: Request, body: Any) -> Any:
        admin().delete_partner(param(request, "issuer"))
        return {"deleted": True}

    # realm, audit, tokens, keys
    def realm_export(request: Request, body: Any) -> Any:
        return export_realm(admin())

    def realm_load(request: Request, body: Any) -> Any:
        return load_realm(admin(), obj(body)).counts

    def audit_list(request: Request, body: Any) -> Any:
        q = request.query_params

        def integer(name: str) -> int | None:
            raw = q.get(name)
            if raw is None:
                return None
            if not raw.isdigit():
                raise InvalidInput("invalid_input", name, public=f"{name} must be an integer")
            return int(raw)

        flt = AuditFilter(
            subject=q.get("subject"), agent=q.get("agent"), audience=q.get("audience"), type=q.get("type"),
            outcome=q.get("outcome"), since=integer("since"), until=integer("until"),
            limit=min(integer("limit") or 100, 10000), newest_first=q.get("order", "desc") != "asc",
        )
        return [
            {"seq": r.seq, "id": r.event_id, "time": r.time, "hash": r.hash, **r.event.to_dict()}
            for r in deputy.store.audit.records(flt)
        ]

    def audit_verify(request: Request, body: Any) -> Any:
        count, broken = verify_chain(deputy.store.audit.records())
        return {"records": count, "intact": broken is None,
                "break": None if broken is None else {"seq": broken.seq, "problem": broken.problem}}

    def token_show(request: Request, body: Any) -> Any:
        jti = param(request, "jti")
        tree = deputy.store.tokens.descendants(jti)
        if not tree:
            raise NotFound("not_found", "token")
        return [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(r).items()} for r in tree
        ]

    # sign-in: passwords and consents (docs/sign-in.md)
    def user_password(request: Request, body: Any) -> Any:
        password = obj(body).get("password")
        if not isinstance(password, str):
            raise InvalidInput("invalid_input", "password", public="Expected password (string).")
        admin().set_password(param(request, "username"), password)
        return {"password_set": True}

    def consents_list(request: Request, body: Any) -> Any:
        include = request.query_params.get("all", "false").lower() in ("1", "true", "yes")
        found = admin().list_consents(request.query_params.get("user"), include_withdrawn=include)
        return [consent_to_dict(c) for c in found]

    def consent_withdraw(request: Request, body: Any) -> Any:
        return {"revoked": admin().withdraw_consent(param(request, "consent_id"))}

    def token_revoke(request: Request, body: Any) -> Any:
        return {"revoked": admin().revoke_token(param(request, "jti"))}

    def keys_list(request: Request, body: Any) -> Any:
        return [
            {"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "retire_at": k.retire_at}
            for k in deputy.store.keys.stored_keys()
        ]

    def keys_rotate(request: Request, body: Any) -> Any:
        data = obj(body or {"alg": "ES256"})
        alg = data.get("alg", "ES256")
        overlap = data.get("overlap_seconds")
        if not isinstance(alg, str):
            raise InvalidInput("invalid_input", "alg", public="alg must be ES256 or RS256")
        if overlap is not None and (not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0):
            raise InvalidInput("invalid_input", "overlap_seconds", public="overlap_seconds must be a non-negative integer")
        key = admin().rotate_key(alg, overlap)
        return {"kid": key.kid, "alg": key.alg}

    r = Route
    return [
        r("/admin/users", guarded(list_users), methods=["GET"]),
        r("/admin/users", guarded(put_user), methods=["POST"]),
        r("/admin/users/{username}", guarded(get_user), methods=["GET"]),
        r("/admin/users/{username}", guarded(put_user), methods=["PUT"]),
        r("/admin/users/{username}", guarded(delete_user), methods=["DELETE"]),
        r("/admin/users/{username}/tokens", guarded(user_token), methods=["POST"]),
        r("/admin/groups", guarded(list_groups), methods=["GET"]),
        r("/admin/groups", guarded(put_group), methods=["POST"]),
        r("/admin/groups/{name}", guarded(delete_group), methods=["DELETE"]),
        r("/admin/resources", guarded(list_resources), methods=["GET"]),
        r("/admin/resources", guarded(put_resource), methods=["POST", "PUT"]),
        r("/admin/resources/{identifier:path}", guarded(get_resource), methods=["GET"]),
        r("/admin/resources/{identifier:path}", guarded(delete_resource), methods=["DELETE"]),
        r("/admin/entitlements", guarded(list_entitlements), methods=["GET"]),
        r("/admin/entitlements", guarded(put_entitlement), methods=["POST", "PUT"]),
        r("/admin/agents", guarded(list_agents), methods=["GET"]),
        r("/admin/agents", guarded(create_agent), methods=["POST"]),
        r("/admin/agents/{client_id}", guarded(get_agent), methods=["GET"]),
        r("/admin/agents/{client_id}", guarded(update_agent), methods=["PUT"]),
        r("/admin/agents/{client_id}", guarded(delete_agent), methods=["DELETE"]),
        r("/admin/agents/{client_id}/status", guarded(agent_status), methods=["POST"]),
        r("/admin/agents/{client_id}/secrets", guarded(agent_secret), methods=["POST"]),
        r("/admin/agents/{client_id}/keys", guarded(agent_key), methods=["POST"]),
        r("/admin/agents/{client_id}/keys/{kid}", guarded(agent_key_delete), methods=["DELETE"]),
        r("/admin/realm", guarded(realm_export), methods=["GET"]),
        r("/admin/realm", guarded(realm_load), methods=["POST", "PUT"]),
        r("/admin/audit", guarded(audit_list), methods=["GET"]),
        r("/admin/audit/verify", guarded(audit_verify), methods=["GET"]),
        r("/admin/tokens/{jti}", guarded(token_show), methods=["GET"]),
        r("/admin/tokens/{jti}/revoke", guarded(token_revoke), methods=["POST"]),
        r("/admin/users/{username}/password", guarded(user_password), methods=["PUT", "POST"]),
        r("/admin/consents", guarded(consents_list), methods=["GET"]),
        r("/admin/consents/{consent_id}/withdraw", guarded(consent_withdraw), methods=["POST"]),
        r("/admin/keys", guarded(keys_list), methods=["GET"]),
        r("/admin/keys/rotate", guarded(keys_rotate), methods=["POST"]),
        r("/admin/issuers", guarded(list_issuers), methods=["GET"]),
        r("/admin/issuers", guarded(put_issuer), methods=["POST"]),
        r("/admin/issuers/{issuer:path}", guarded(get_issuer), methods=["GET"]),
        r("/admin/issuers/{issuer:path}", guarded(delete_issuer), methods=["DELETE"]),
        r("/admin/partners", guarded(list_partners), methods=["GET"]),
        r("/admin/partners", guarded(put_partner), methods=["POST"]),
        r("/admin/partners/{issuer:path}", guarded(get_partner), methods=["GET"]),
        r("/admin/partners/{issuer:path}", guarded(delete_partner), methods=["DELETE"]),
        r("/admin/openapi.json", guarded(lambda request, body: admin_openapi(deputy.settings.issuer)), methods=["GET"]),
    ]


__all__ = ["admin_routes"]
