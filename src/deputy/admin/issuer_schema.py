"""Trusted external issuers from untrusted JSON/TOML, with errors that name the field.

The shape (realm files, the admin API and ``deputy issuers show`` all use it)::

    issuer = "https://login.microsoftonline.com/<tenant>/v2.0"
    discovery_url = "https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration"
    # or jwks_uri = "https://.../keys" (exactly one of the two)
    user_claim = "oid"
    provision = true
    groups_claim = "groups"
    group_map = { "<external group>" = "<deputy group>" }
    agent_audiences = { "incident-agent" = ["api://incident-agent"] }
    algorithms = ["RS256"]
    token_types = ["JWT", ""]    # "" accepts a token without a typ header
    id_jag = true                # redeem its ID-JAGs (cross-app access, docs/dialects.md)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from deputy.admin.schema import _bool, _fail, _known, _name
from deputy.constants import EXTERNAL_ISSUER_ALGORITHMS
from deputy.realm import TrustedIssuer

FIELDS = {
    "issuer", "discovery_url", "jwks_uri", "user_claim", "provision", "groups_claim", "group_map",
    "agent_audiences", "algorithms", "token_types", "id_jag",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Claims that say something about the token rather than who the user is.
NOT_USER_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti", "act", "may_act", "scope", "scp", "azp", "cnf"})
# Explicit types of JWTs that are never a user's token: accepting them is type confusion.
REFUSED_TYPES = frozenset(
    {"dpop+jwt", "oauth-id-jag+jwt", "txntoken+jwt", "logout+jwt", "secevent+jwt", "token-introspection+jwt"}
)


def _url(value: object, where: str, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 500:
        raise _fail(where, f"'{field}' must be a URL of at most 500 characters")
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or parts.fragment or "#" in value:
        raise _fail(where, f"'{field}' must be an absolute URL without a fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise _fail(where, f"'{field}' must use https (http only on the loopback interface)")
    return value


def _strings(value: object, where: str, field: str, *, allow_empty_item: bool = False) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and (v or allow_empty_item) and len(v) <= 500 for v in value
    ):
        raise _fail(where, f"'{field}' must be a list of strings")
    return tuple(dict.fromkeys(value))


def _claim_name(value: object, where: str, field: str, *, optional: bool = False) -> str:
    if value == "" and optional:
        return ""
    if not isinstance(value, str) or not value or len(value) > 200 or any(c.isspace() for c in value):
        raise _fail(where, f"'{field}' must be a claim name (no spaces)")
    return value


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise _fail(where, f"'{key}' must be a table (object)")
    return value


def parse_trusted_issuer(data: Mapping[str, Any], where: str = "issuer") -> TrustedIssuer:
    _known(data, where, FIELDS)
    issuer = _url(data.get("issuer"), where, "issuer")
    if urlsplit(issuer).query:
        raise _fail(where, "'issuer' must not have a query (RFC 8414 section 2)")
    where = f"{where} ({issuer})"
    discovery_url = data.get("discovery_url", "")
    jwks_uri = data.get("jwks_uri", "")
    if bool(discovery_url) == bool(jwks_uri):
        raise _fail(where, "give exactly one of 'discovery_url' and 'jwks_uri'")
    if discovery_url:
        discovery_url = _url(discovery_url, where, "discovery_url")
    if jwks_uri:
        jwks_uri = _url(jwks_uri, where, "jwks_uri")

    user_claim = _claim_name(data.get("user_claim", "sub"), where, "user_claim")
    if user_claim in NOT_USER_CLAIMS:
        raise _fail(where, f"'user_claim' {user_claim!r} does not name a user (try sub, oid, preferred_username, email)")
    groups_claim = _claim_name(data.get("groups_claim", ""), where, "groups_claim", optional=True)
    group_map: list[tuple[str, str]] = []
    for external, group in _table(data, "group_map", where).items():
        if not external or len(external) > 500:
            raise _fail(f"{where}.group_map", "external group names must be non-empty strings")
        group_map.append((external, _name(group, f"{where}.group_map[{external!r}]")))
    if group_map and not groups_claim:
        raise _fail(where, "'group_map' needs 'groups_claim' (the claim that lists the user's groups)")

    audiences: list[tuple[str, tuple[str, ...]]] = []
    for client_id, values in _table(data, "agent_audiences", where).items():
        item = f"{where}.agent_audiences[{client_id!r}]"
        _name(client_id, item)
        parsed = _strings(values, item, "audiences")
        if not parsed:
            raise _fail(item, "list at least one audience value")
        audiences.append((client_id, parsed))

    algorithms = _strings(data.get("algorithms", ["RS256", "ES256"]), where, "algorithms")
    bad = [a for a in algorithms if a not in EXTERNAL_ISSUER_ALGORITHMS]
    if bad or not algorithms:
        raise _fail(
            where, f"'algorithms' {bad} not allowed: choose from {list(EXTERNAL_ISSUER_ALGORITHMS)} (never none or HMAC)"
        )
    token_types = _strings(data.get("token_types", ["at+jwt", "JWT", ""]), where, "token_types", allow_empty_item=True)
    confusable = [t for t in token_types if t.lower().removeprefix("application/") in REFUSED_TYPES]
    if confusable or not token_types:
        raise _fail(where, f"'token_types' must list the types of user tokens; {confusable} are not")
    return TrustedIssuer(
        issuer=issuer,
        discovery_url=discovery_url,
        jwks_uri=jwks_uri,
        user_claim=user_claim,
        provision=_bool(data, "provision", where),
        groups_claim=groups_claim,
        group_map=tuple(group_map),
        agent_audiences=tuple(audiences),
        algorithms=algorithms,
        token_types=token_types,
        id_jag=_bool(data, "id_jag", where),
    )


def trusted_issuer_to_dict(issuer: TrustedIssuer) -> dict[str, Any]:
    out: dict[str, Any] = {"issuer": issuer.issuer}
    if issuer.discovery_url:
        out["discovery_url"] = issuer.discovery_url
    if issuer.jwks_uri:
        out["jwks_uri"] = issuer.jwks_uri
    out.update(
        user_claim=issuer.user_claim,
        provision=issuer.provision,
        groups_claim=issuer.groups_claim,
        group_map=dict(issuer.group_map),
        agent_audiences={agent: list(values) for agent, values in issuer.agent_audiences},
        algorithms=list(issuer.algorithms),
        token_types=list(issuer.token_types),
    )
    if issuer.id_jag:  # shown when on, so that views and exports of other issuers read as before
        out["id_jag"] = True
    return out
