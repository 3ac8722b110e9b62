"""Turning untrusted JSON/TOML data into realm objects, with errors that name the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from deputy.constants import ISSUING_ALGORITHMS
from deputy.errors import InvalidInput
from deputy.protocol.sign_in_ports import Consent
from deputy.realm import Agent, AgentStatus, Entitlement, Group, Resource, ResourceGrant, User

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,200}$")


def _fail(where: str, problem: str) -> InvalidInput:
    text = f"{where}: {problem}"
    return InvalidInput("invalid_input", text, public=text.encode("ascii", "replace").decode())


def _known(data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise _fail(where, f"unknown field(s) {sorted(unknown)}")


def _str(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _fail(where, f"'{key}' must be a string")
    return value


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise _fail(where, f"{value!r} is not a valid name (letters, digits, . _ @ + -)")
    return value


def _names(data: Mapping[str, Any], key: str, where: str, *, allow_star: bool = False) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _fail(where, f"'{key}' must be a list")
    return tuple(v if allow_star and v == "*" else _name(v, f"{where}.{key}") for v in value)


def _scopes(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(s, str) and SCOPE.match(s) for s in value):
        raise _fail(where, "scopes must be a list of scope tokens (RFC 6749 section 3.3)")
    return tuple(dict.fromkeys(value))


def _bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _fail(where, f"'{key}' must be true or false")
    return value


def parse_user(data: Mapping[str, Any], where: str = "user") -> User:
    _known(data, where, {"username", "display_name", "email", "groups", "disabled"})
    return User(
        username=_name(data.get("username"), where),
        display_name=_str(data, "display_name", where, ""),
        email=_str(data, "email", where, ""),
        groups=_names(data, "groups", where),
        disabled=_bool(data, "disabled", where),
    )


def parse_group(data: Mapping[str, Any], where: str = "group") -> Group:
    _known(data, where, {"name", "description"})
    return Group(_name(data.get("name"), where), _str(data, "description", where, ""))


def resource_identifier(value: object, where: str) -> str:
    """A resource is an absolute URI without fragment (RFC 8707) or a plain logical name."""
    if not isinstance(value, str) or not value or len(value) > 500:
        raise _fail(where, "'identifier' must be a non-empty string")
    if ":" in value:
        parts = urlsplit(value)
        if not parts.scheme or parts.fragment or "#" in value:
            raise _fail(where, "'identifier' must be an absolute URI without fragment")
    else:
        _name(value, where)
    return value


def parse_resource(data: Mapping[str, Any], where: str = "resource") -> Resource:
    _known(data, where, {"identifier", "name", "scopes", "signing_alg", "token_ttl", "approval_scopes"})
    alg = _str(data, "signing_alg", where, "ES256")
    if alg not in ISSUING_ALGORITHMS:
        raise _fail(where, f"'signing_alg' must be one of {list(ISSUING_ALGORITHMS)}")
    ttl = data.get("token_ttl", 300)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 10 <= ttl <= 86400:
        raise _fail(where, "'token_ttl' must be an integer between 10 and 86400 seconds")
    scopes = _scopes(data.get("scopes", []), f"{where}.scopes")
    approval = _scopes(data.get("approval_scopes", []), f"{where}.approval_scopes")
    undefined = set(approval) - set(scopes)
    if undefined:
        raise _fail(f"{where}.approval_scopes", f"scopes {sorted(undefined)} are not among the resource's scopes")
    return Resource(
        identifier=resource_identifier(data.get("identifier"), where),
        name=_str(data, "name", where, ""),
        scopes=scopes,
        signing_alg=alg,
        token_ttl=ttl,
        approval_scopes=approval,
    )


def parse_entitlement(data: Mapping[str, Any], where: str = "entitlement") -> Entitlement:
    _known(data, where, {"group", "resource", "scopes"})
    return Entitlement(
        group=_name(data.get("group"), where),
        resource=resource_identifier(data.get("resource"), where),
        scopes=_scopes(data.get("scopes", []), f"{where}.scopes"),
    )


def parse_agent(data: Mapping[str, Any], where: str = "agent") -> Agent:
    _known(
        data, where,
        {"client_id", "name", "description", "owners", "status", "may_impersonate", "subject_users",
         "subject_groups", "resources", "audiences", "redirect_uris", "public_client"},
    )
    status = _str(data, "status", where, "staged")
    try:
        parsed_status = AgentStatus(status)
    except ValueError:
        raise _fail(where, f"'status' must be one of {[s.value for s in AgentStatus]}") from None
    resources = data.get("resources", [])
    if not isinstance(resources, list):
        raise _fail(where, "'resources' must be a list of {resource, scopes}")
    grants = []
    for i, item in enumerate(resources):
        if not isinstance(item, Mapping):
            raise _fail(f"{where}.resources[{i}]", "must be a table with resource and scopes")
        _known(item, f"{where}.resources[{i}]", {"resource", "scopes"})
        grants.append(
            ResourceGrant(
                resource_identifier(item.get("resource"), f"{where}.resources[{i}]"),
                _scopes(item.get("scopes", []), f"{where}.resources[{i}].scopes"),
            )
        )
    audiences = data.get("audiences", [])
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        raise _fail(where, "'audiences' must be a list of strings")
    return Agent(
        client_id=_name(data.get("client_id"), where),
        name=_str(data, "name", where, ""),
        description=_str(data, "description", where, ""),
        owners=_names(data, "owners", where),
        status=parsed_status,
        may_impersonate=_bool(data, "may_impersonate", where),
        subject_users=_names(data, "subject_users", where, allow_star=True),
        subject_groups=_names(data, "subject_groups", where),
        resource_grants=tuple(grants),
        audiences=tuple(audiences),
        redirect_uris=_redirect_uris(data.get("redirect_uris", []), where),
        public_client=_bool(data, "public_client", where),
    )


def _redirect_uris(value: object, where: str) -> tuple[str, ...]:
    """OAuth 2.1 / RFC 6749 §3.1.2: absolute, no fragment; https except on loopback."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, "'redirect_uris' must be a list of URLs")
    for uri in value:
        parts = urlsplit(uri)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.fragment or "#" in uri or not parts.scheme or not parts.netloc:
            raise _fail(where, f"redirect URI {uri!r} must be absolute and without a fragment")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise _fail(where, f"redirect URI {uri!r} must use https (http only on loopback)")
    return tuple(value)


def agent_to_dict(agent: Agent) -> dict[str, Any]:
    return {
        "client_id": agent.client_id,
        "name": agent.name,
        "description": agent.description,
        "owners": list(agent.owners),
        "status": agent.status.value,
        "may_impersonate": agent.may_impersonate,
        "subject_users": list(agent.subject_users),
        "subject_groups": list(agent.subject_groups),
        "resources": [{"resource": g.resource, "scopes": list(g.scopes)} for g in agent.resource_grants],
        "audiences": list(agent.audiences),
        "redirect_uris": list(agent.redirect_uris),
        "public_client": agent.public_client,
    }


def agent_view(agent: Agent) -> dict[str, Any]:
    """What the admin API shows: settings plus credential metadata, never secret hashes."""
    view = agent_to_dict(agent)
    view["secrets"] = [{"secret_id": s.secret_id, "created_at": s.created_at, "expires_at": s.expires_at} for s in agent.secrets]
    view["keys"] = [{"kid": k.kid, "created_at": k.created_at, "jwk": k.jwk} for k in agent.keys]
    return view


def user_to_dict(user: User) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "email": user.email,
            "groups": list(user.groups), "disabled": user.disabled}


def resource_to_dict(resource: Resource) -> dict[str, Any]:
    data: dict[str, Any] = {"identifier": resource.identifier, "name": resource.name, "scopes": list(resource.scopes),
                            "signing_alg": resource.signing_alg, "token_ttl": resource.token_ttl}
    if resource.approval_scopes:  # only when some: older exports and clients see no new field
        data["approval_scopes"] = list(resource.approval_scopes)
    return data


def entitlement_to_dict(ent: Entitlement) -> dict[str, Any]:
    return {"group": ent.group, "resource": ent.resource, "scopes": list(ent.scopes)}


def consent_to_dict(consent: Consent) -> dict[str, Any]:
    """A consent (delegation grant) as the admin API and CLI show it."""
    return {
        "consent_id": consent.consent_id, "username": consent.username, "client_id": consent.client_id,
        "resource": consent.resource, "scopes": list(consent.scopes), "created_at": consent.created_at,
        "expires_at": consent.expires_at, "withdrawn_at": consent.withdrawn_at,
    }
