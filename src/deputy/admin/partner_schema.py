"""Partner authorization servers from untrusted JSON/TOML, with errors that name the field.

A partner is another domain's authorization server for which Deputy, as the enterprise IdP,
issues ID-JAGs to agents (docs/dialects.md). The shape (realm files, the admin API and
``deputy partners show`` all use it)::

    issuer = "https://auth.saas.example"            # its issuer identifier: the ID-JAG's aud
    name = "SaaS incident desk"
    scopes = ["incidents:read"]                      # what an ID-JAG may carry
    resources = ["https://api.saas.example"]         # the resource parameter values accepted
    signing_alg = "RS256"                            # or ES256
    agent_clients = { "incident-agent" = "0oa8f5j3ecb5w3dF35d7" }   # client_id there
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from deputy.admin.issuer_schema import _table, _url
from deputy.admin.schema import _fail, _known, _name, _scopes, _str
from deputy.constants import ISSUING_ALGORITHMS
from deputy.realm import PartnerServer

FIELDS = {"issuer", "name", "agent_clients", "scopes", "resources", "signing_alg"}


def _client_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 500 or any(c.isspace() or ord(c) < 0x21 for c in value):
        raise _fail(where, "the client_id at the partner must be a non-empty string without spaces")
    return value


def _resource(value: object, where: str) -> str:
    """RFC 8707 §2: an absolute URI without a fragment."""
    if not isinstance(value, str) or not value or len(value) > 500:
        raise _fail(where, "a resource must be a URI of at most 500 characters")
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment or "#" in value:
        raise _fail(where, f"resource {value!r} must be an absolute URI without a fragment")
    return value


def parse_partner_server(data: Mapping[str, Any], where: str = "partner") -> PartnerServer:
    _known(data, where, FIELDS)
    issuer = _url(data.get("issuer"), where, "issuer")
    if urlsplit(issuer).query:
        raise _fail(where, "'issuer' must not have a query (RFC 8414 section 2)")
    where = f"{where} ({issuer})"
    clients: list[tuple[str, str]] = []
    for client_id, remote in _table(data, "agent_clients", where).items():
        item = f"{where}.agent_clients[{client_id!r}]"
        clients.append((_name(client_id, item), _client_id(remote, item)))
    resources = data.get("resources", [])
    if not isinstance(resources, list):
        raise _fail(where, "'resources' must be a list of URIs")
    alg = _str(data, "signing_alg", where, "RS256")
    if alg not in ISSUING_ALGORITHMS:
        raise _fail(where, f"'signing_alg' must be one of {list(ISSUING_ALGORITHMS)}")
    return PartnerServer(
        issuer=issuer,
        name=_str(data, "name", where, ""),
        agent_clients=tuple(clients),
        scopes=_scopes(data.get("scopes", []), f"{where}.scopes"),
        resources=tuple(dict.fromkeys(_resource(r, f"{where}.resources[{i}]") for i, r in enumerate(resources))),
        signing_alg=alg,
    )


def partner_server_to_dict(partner: PartnerServer) -> dict[str, Any]:
    return {
        "issuer": partner.issuer,
        "name": partner.name,
        "agent_clients": dict(partner.agent_clients),
        "scopes": list(partner.scopes),
        "resources": list(partner.resources),
        "signing_alg": partner.signing_alg,
    }
