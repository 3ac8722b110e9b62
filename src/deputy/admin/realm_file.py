"""Load a whole realm from one declarative file (TOML or JSON), or export one.

The file is applied as upserts in dependency order: groups, resources, users, entitlements,
agents, trusted issuers, partner authorization servers. Credentials: ``secret`` sets a known
client secret (development only) and ``keys`` registers public JWKs for private_key_jwt.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deputy.admin.schema import (
    agent_to_dict,
    entitlement_to_dict,
    parse_agent,
    parse_entitlement,
    parse_group,
    parse_resource,
    parse_user,
    resource_to_dict,
    user_to_dict,
)
from deputy.admin.issuer_schema import parse_trusted_issuer, trusted_issuer_to_dict
from deputy.admin.partner_schema import parse_partner_server, partner_server_to_dict
from deputy.admin.service import RealmAdmin
from deputy.errors import InvalidInput
from deputy.realm import Agent, Entitlement, PartnerServer, Resource, TrustedIssuer

SECTIONS = ("groups", "resources", "users", "entitlements", "agents", "issuers", "partners")


@dataclass
class LoadSummary:
    counts: dict[str, int] = field(default_factory=dict)


def read_realm_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"{path.name}: {exc}"
        raise InvalidInput("invalid_input", msg, public=msg) from None
    if not isinstance(data, dict):
        raise InvalidInput("invalid_input", "realm file must be a table", public="realm file must be a table")
    return data


def _items(data: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    items = data.get(section, [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        msg = f"'{section}' must be a list of tables"
        raise InvalidInput("invalid_input", msg, public=msg)
    return items


def load_realm(admin: RealmAdmin, data: Mapping[str, Any]) -> LoadSummary:
    unknown = set(data) - set(SECTIONS)
    if unknown:
        msg = f"unknown section(s) {sorted(unknown)}; expected {list(SECTIONS)}"
        raise InvalidInput("invalid_input", msg, public=msg)
    # Parse everything first, so that a mistake anywhere changes nothing.
    groups = [parse_group(g, f"groups[{i}]") for i, g in enumerate(_items(data, "groups"))]
    resources = [parse_resource(r, f"resources[{i}]") for i, r in enumerate(_items(data, "resources"))]
    raw_users = _items(data, "users")
    users = [
        parse_user({k: v for k, v in u.items() if k not in USER_CREDENTIALS}, f"users[{i}]")
        for i, u in enumerate(raw_users)
    ]
    passwords = _user_passwords(raw_users)
    entitlements = [parse_entitlement(e, f"entitlements[{i}]") for i, e in enumerate(_items(data, "entitlements"))]
    raw_agents = _items(data, "agents")
    agents = [
        (parse_agent({k: v for k, v in a.items() if k not in ("secret", "keys")}, f"agents[{i}]"), a)
        for i, a in enumerate(raw_agents)
    ]
    issuers = _parse_issuers(admin, data, agents)
    partners = _parse_partners(admin, data, agents)
    _check_before_applying(admin, resources, entitlements, agents)
    for group in groups:
        admin.put_group(group)
    for resource in resources:
        admin.put_resource(resource)
    for user in users:
        admin.put_user(user)
    for username, (field_name, value) in passwords.items():
        if field_name == "password":
            admin.set_password(username, value)
        else:
            admin.set_password_hash(username, value)
    for ent in entitlements:
        admin.set_entitlement(ent)
    for agent, raw in agents:
        admin.put_agent(agent)
        secret = raw.get("secret")
        if secret is not None:
            admin.set_secret(agent.client_id, secret)
        for jwk in raw.get("keys", []):
            admin.add_key(agent.client_id, jwk)
    for issuer in issuers:
        admin.put_issuer(issuer)
    for partner in partners:
        admin.put_partner(partner)
    return LoadSummary(
        {"groups": len(groups), "resources": len(resources), "users": len(users),
         "entitlements": len(entitlements), "agents": len(agents), **_issuer_count(data, issuers),
         **({"partners": len(partners)} if "partners" in data else {})}
    )


# A user's sign-in credential: ``password`` (hashed with argon2id on load) or ``password_hash``
# (an argon2id hash made elsewhere, so that loading does not pay for hashing). Never exported.
USER_CREDENTIALS = ("password", "password_hash")


def _user_passwords(raw_users: list[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    from deputy.accounts.passwords import is_password_hash, password_problem

    def fail(msg: str) -> InvalidInput:
        return InvalidInput("invalid_input", msg, public=msg)

    out: dict[str, tuple[str, str]] = {}
    for i, raw in enumerate(raw_users):
        given = [name for name in USER_CREDENTIALS if name in raw]
        if len(given) > 1:
            raise fail(f"users[{i}]: give either 'password' or 'password_hash', not both")
        if not given:
            continue
        value = raw[given[0]]
        if not isinstance(value, str):
            raise fail(f"users[{i}]: '{given[0]}' must be a string")
        if given[0] == "password" and (problem := password_problem(value)) is not None:
            raise fail(f"users[{i}]: {problem}")
        if given[0] == "password_hash" and not is_password_hash(value):
            raise fail(f"users[{i}]: 'password_hash' must be an argon2id hash")
        out[str(raw.get("username"))] = (given[0], value)
    return out


def _check_before_applying(
    admin: RealmAdmin, resources: list[Resource], entitlements: list[Entitlement], agents: list[tuple[Agent, Any]]
) -> None:
    """What the admin service would refuse half-way through the load, refused before anything."""
    def fail(msg: str) -> InvalidInput:
        return InvalidInput("invalid_input", msg, public=msg)

    known = {r.identifier: r for r in admin.store.realm.list_resources()}
    known.update({r.identifier: r for r in resources})

    def check_scopes(where: str, resource: str, scopes: tuple[str, ...]) -> None:
        target = known.get(resource)
        if target is None:
            raise fail(f"{where}: resource {resource!r} does not exist")
        unknown = set(scopes) - set(target.scopes)
        if unknown:
            raise fail(f"{where}: scopes {sorted(unknown)} are not defined by {resource}")

    for i, ent in enumerate(entitlements):
        check_scopes(f"entitlements[{i}]", ent.resource, ent.scopes)
    for i, (agent, raw) in enumerate(agents):
        where = f"agents[{i}]"
        for j, grant in enumerate(agent.resource_grants):
            check_scopes(f"{where}.resources[{j}]", grant.resource, grant.scopes)
        secret = raw.get("secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            raise fail(f"{where}: 'secret' must be a string of at least 16 characters")
        keys = raw.get("keys", [])
        if not isinstance(keys, list):
            raise fail(f"{where}: 'keys' must be a list of public JWKs")
        for j, jwk in enumerate(keys):
            try:
                RealmAdmin.check_public_jwk(jwk)
            except InvalidInput as exc:
                raise fail(f"{where}.keys[{j}]: {exc.description}") from None


def export_realm(admin: RealmAdmin) -> dict[str, Any]:
    realm = admin.store.realm
    agents = []
    for agent in realm.list_agents():
        item = agent_to_dict(agent)
        item["keys"] = [k.jwk for k in agent.keys]
        agents.append(item)
    return {
        "groups": [{"name": g.name, "description": g.description} for g in realm.list_groups()],
        "resources": [resource_to_dict(r) for r in realm.list_resources()],
        "users": [user_to_dict(u) for u in realm.list_users()],
        "entitlements": [entitlement_to_dict(e) for e in realm.list_entitlements()],
        "agents": agents,
        **_exported_issuers(admin),
        **_exported_partners(admin),
    }


# -- trusted external issuers (docs/trusted-issuers.md) -------------------------------------------
def _parse_issuers(admin: RealmAdmin, data: Mapping[str, Any], agents: list[tuple[Agent, Any]]) -> list[TrustedIssuer]:
    """Parsed and checked before anything is written (agents in the same file count as existing)."""
    issuers = [parse_trusted_issuer(t, f"issuers[{i}]") for i, t in enumerate(_items(data, "issuers"))]
    pending = [agent.client_id for agent, _ in agents]
    for i, issuer in enumerate(issuers):
        try:
            admin.check_issuer(issuer, pending)
        except InvalidInput as exc:
            msg = f"issuers[{i}]: {exc.description}"
            raise InvalidInput("invalid_input", msg, public=msg) from None
    return issuers


def _issuer_count(data: Mapping[str, Any], issuers: list[TrustedIssuer]) -> dict[str, int]:
    """Reported when the file has the section, so that realms without issuers look as before."""
    return {"issuers": len(issuers)} if "issuers" in data else {}


def _exported_issuers(admin: RealmAdmin) -> dict[str, Any]:
    issuers = admin.store.issuers.list_trusted_issuers()
    return {"issuers": [trusted_issuer_to_dict(t) for t in issuers]} if issuers else {}


# -- partner authorization servers (docs/dialects.md) ---------------------------------------------
def _parse_partners(admin: RealmAdmin, data: Mapping[str, Any], agents: list[tuple[Agent, Any]]) -> list[PartnerServer]:
    """Parsed and checked before anything is written (agents in the same file count as existing)."""
    partners = [parse_partner_server(p, f"partners[{i}]") for i, p in enumerate(_items(data, "partners"))]
    pending = [agent.client_id for agent, _ in agents]
    for i, partner in enumerate(partners):
        try:
            admin.check_partner(partner, pending)
        except InvalidInput as exc:
            msg = f"partners[{i}]: {exc.description}"
            raise InvalidInput("invalid_input", msg, public=msg) from None
    return partners


def _exported_partners(admin: RealmAdmin) -> dict[str, Any]:
    partners = admin.store.partners.list_partners()
    return {"partners": [partner_server_to_dict(p) for p in partners]} if partners else {}
