"""Realm objects as immutable dataclasses. Validation lives in :mod:`deputy.realm.schema`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AgentStatus(StrEnum):
    """Agent lifecycle (Okta's AI agent registry uses the same stages)."""

    STAGED = "staged"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


@dataclass(frozen=True)
class User:
    username: str
    display_name: str = ""
    email: str = ""
    groups: tuple[str, ...] = ()
    disabled: bool = False


@dataclass(frozen=True)
class Group:
    name: str
    description: str = ""


@dataclass(frozen=True)
class Resource:
    """A protected API (or an agent that receives delegated tokens), named by its identifier."""

    identifier: str
    name: str = ""
    scopes: tuple[str, ...] = ()
    signing_alg: str = "ES256"
    token_ttl: int = 300
    # Scopes issued only after the user approves (OpenID CIBA, docs/approvals.md): never by a
    # token exchange or any other grant alone. A subset of ``scopes``.
    approval_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceGrant:
    """What an agent may obtain at one resource."""

    resource: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class AgentSecret:
    secret_id: str
    secret_hash: str
    created_at: int
    expires_at: int | None = None


@dataclass(frozen=True)
class AgentKey:
    """A public key registered for private_key_jwt client authentication."""

    kid: str
    jwk: dict[str, Any]
    created_at: int


@dataclass(frozen=True)
class Agent:
    client_id: str
    name: str = ""
    description: str = ""
    owners: tuple[str, ...] = ()
    status: AgentStatus = AgentStatus.STAGED
    may_impersonate: bool = False
    # The users and groups this agent may act for; "*" in users means any user.
    subject_users: tuple[str, ...] = ()
    subject_groups: tuple[str, ...] = ()
    resource_grants: tuple[ResourceGrant, ...] = ()
    # Audience values that identify this agent in a subject token (its client_id always does).
    audiences: tuple[str, ...] = ()
    # Sign-in clients (authorization code flow): exact redirect URIs, and whether the client is
    # public (no secret; PKCE is then its only protection).
    redirect_uris: tuple[str, ...] = ()
    public_client: bool = False
    secrets: tuple[AgentSecret, ...] = field(default=(), compare=False)
    keys: tuple[AgentKey, ...] = field(default=(), compare=False)

    @property
    def identifiers(self) -> frozenset[str]:
        return frozenset((self.client_id, *self.audiences))

    def grant_for(self, resource: str) -> ResourceGrant | None:
        for grant in self.resource_grants:
            if grant.resource == resource:
                return grant
        return None

    def may_act_for(self, user: User) -> bool:
        if "*" in self.subject_users or user.username in self.subject_users:
            return True
        return any(group in self.subject_groups for group in user.groups)

    @property
    def auth_methods(self) -> frozenset[str]:
        methods: set[str] = set()
        if self.secrets:
            methods.update({"client_secret_basic", "client_secret_post"})
        if self.keys:
            methods.add("private_key_jwt")
        return frozenset(methods)


@dataclass(frozen=True)
class Entitlement:
    """Members of ``group`` may use ``scopes`` at ``resource``."""

    group: str
    resource: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TrustedIssuer:
    """An external OIDC/OAuth issuer whose tokens Deputy accepts as subject tokens."""

    issuer: str
    # Where the keys come from: a discovery URL (…/.well-known/openid-configuration) or a JWKS URL.
    discovery_url: str = ""
    jwks_uri: str = ""
    # The claim that names the Deputy user (sub, oid, preferred_username, email, ...).
    user_claim: str = "sub"
    # Create unknown users on first sight (with the mapped groups) instead of refusing them.
    provision: bool = False
    groups_claim: str = ""
    # external group value -> Deputy group
    group_map: tuple[tuple[str, str], ...] = ()
    # agent client_id -> the audience values that identify that agent in this issuer's tokens
    agent_audiences: tuple[tuple[str, tuple[str, ...]], ...] = ()
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    # Accepted JOSE "typ" header values; "" stands for a token without typ.
    token_types: tuple[str, ...] = ("at+jwt", "JWT", "")
    # Redeem this issuer's ID-JAGs (typ oauth-id-jag+jwt) with the jwt-bearer grant: Deputy as the
    # resource's authorization server in cross-app access (docs/dialects.md).
    id_jag: bool = False

    def audiences_for(self, client_id: str) -> frozenset[str]:
        for agent, values in self.agent_audiences:
            if agent == client_id:
                return frozenset(values)
        return frozenset()


@dataclass(frozen=True)
class PartnerServer:
    """A downstream authorization server (another domain's, e.g. a SaaS app's) for which Deputy, as
    the enterprise IdP, issues ID-JAGs to agents (cross-app access, docs/dialects.md)."""

    issuer: str  # exactly as that server's metadata says: the ID-JAG's ``aud``
    name: str = ""
    # agent client_id here -> that agent's client_id AT the partner (the ID-JAG's ``client_id``);
    # an agent not listed gets no ID-JAG for this partner.
    agent_clients: tuple[tuple[str, str], ...] = ()
    # The scopes an ID-JAG may carry (requested ∩ these); none: only ID-JAGs without scope.
    scopes: tuple[str, ...] = ()
    # The values the ``resource`` parameter may take; none: the parameter is refused.
    resources: tuple[str, ...] = ()
    signing_alg: str = "RS256"  # RS256: what every RFC 7523 implementation must verify

    def client_id_for(self, client_id: str) -> str | None:
        for agent, remote in self.agent_clients:
            if agent == client_id:
                return remote
        return None
