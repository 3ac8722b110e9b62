"""Tables. JSON columns hold small lists; everything queried on has its own indexed column."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("email", String(320), nullable=False, default=""),
    Column("disabled", Boolean, nullable=False, default=False),
)

groups = Table(
    "groups",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text, nullable=False, default=""),
)

memberships = Table(
    "memberships",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("group_name", String(200), primary_key=True, index=True),
)

resources = Table(
    "resources",
    metadata,
    Column("identifier", String(500), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("scopes", JSON, nullable=False),
    Column("signing_alg", String(10), nullable=False),
    Column("token_ttl", Integer, nullable=False),
    # Scopes never issued without the user's explicit approval (CIBA, docs/approvals.md); NULL: none.
    Column("approval_scopes", JSON, nullable=True),
)

entitlements = Table(
    "entitlements",
    metadata,
    Column("group_name", String(200), primary_key=True),
    Column("resource", String(500), primary_key=True, index=True),
    Column("scopes", JSON, nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("owners", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("may_impersonate", Boolean, nullable=False, default=False),
    Column("subject_users", JSON, nullable=False),
    Column("subject_groups", JSON, nullable=False),
    Column("audiences", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Sign-in (authorization code) clients: where codes may be sent, and whether it has no secret.
    Column("redirect_uris", JSON, nullable=False, default=list),
    Column("public_client", Boolean, nullable=False, default=False),
)

agent_grants = Table(
    "agent_grants",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("resource", String(500), primary_key=True),
    Column("scopes", JSON, nullable=False),
)

agent_secrets = Table(
    "agent_secrets",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("secret_id", String(64), primary_key=True),
    Column("secret_hash", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
)

agent_keys = Table(
    "agent_keys",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("kid", String(200), primary_key=True),
    Column("jwk", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("parent_jti", String(64), nullable=True, index=True),
    Column("subject", String(200), nullable=False, index=True),
    Column("client_id", String(200), nullable=False),
    Column("grant_type", String(100), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("audience", JSON, nullable=False),
    Column("scope", JSON, nullable=False),
    Column("actors", JSON, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("revoked_reason", String(100), nullable=True),
    # The consent (delegation grant) or refresh-token family a user token came from, if any:
    # withdrawing the consent revokes every token that points at it, and their descendants.
    Column("grant_ref", String(64), nullable=True, index=True),
)

token_actors = Table(
    "token_actors",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("agent_id", String(200), primary_key=True),
    Index("ix_token_actors_agent", "agent_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("time", BigInteger, nullable=False, index=True),
    Column("type", String(100), nullable=False, index=True),
    Column("outcome", String(20), nullable=False),
    Column("client_id", String(200), nullable=True, index=True),
    Column("subject", String(200), nullable=True, index=True),
    Column("actors", Text, nullable=False),  # "|a|b|" for filtering by any agent in the chain
    Column("audience", Text, nullable=False),
    Column("body", Text, nullable=False),  # the event as canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

replay_cache = Table(
    "replay_cache",
    metadata,
    Column("key", String(500), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(100), primary_key=True),
    Column("alg", String(10), nullable=False),
    Column("private_jwk", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("retire_at", BigInteger, nullable=True),
)

# -- issue 3: sign-in, consent and trusted external issuers ---------------------------------------

trusted_issuers = Table(
    "trusted_issuers",
    metadata,
    Column("issuer", String(500), primary_key=True),
    Column("config", JSON, nullable=False),  # see deputy.realm.TrustedIssuer
    Column("updated_at", BigInteger, nullable=False),
)

user_credentials = Table(
    "user_credentials",
    metadata,
    Column("username", String(200), primary_key=True),
    Column("password_hash", String(500), nullable=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),  # SHA-256 of the cookie value
    Column("username", String(200), nullable=False, index=True),
    Column("auth_time", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", String(64), primary_key=True),
    Column("username", String(200), nullable=False, index=True),
    Column("client_id", String(200), nullable=False, index=True),
    Column("resource", String(500), nullable=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("withdrawn_at", BigInteger, nullable=True),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),  # SHA-256 of the code
    Column("client_id", String(200), nullable=False),
    Column("username", String(200), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", JSON, nullable=False),
    Column("resource", JSON, nullable=False),
    Column("code_challenge", String(200), nullable=False),
    Column("nonce", String(500), nullable=True),
    Column("auth_time", BigInteger, nullable=False),
    Column("consent_id", String(64), nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    Column("issued_jtis", JSON, nullable=True),  # tokens issued for it, revoked if it is replayed
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the refresh token
    Column("family_id", String(64), nullable=False, index=True),
    Column("client_id", String(200), nullable=False),
    Column("username", String(200), nullable=False, index=True),
    Column("scope", JSON, nullable=False),
    Column("resource", JSON, nullable=False),
    Column("consent_id", String(64), nullable=True, index=True),
    Column("auth_time", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),  # rotated: a second use is reuse
    Column("revoked_at", BigInteger, nullable=True),
)

# -- issue 4: partner authorization servers (Deputy as the enterprise IdP issuing ID-JAGs) --------

partner_servers = Table(
    "partner_servers",
    metadata,
    Column("issuer", String(500), primary_key=True),
    Column("config", JSON, nullable=False),  # see deputy.realm.PartnerServer
    Column("updated_at", BigInteger, nullable=False),
)

# -- issue 7: human approval (OpenID CIBA, poll mode) ---------------------------------------------

backchannel_requests = Table(
    "backchannel_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),  # public: shown to the user and the CLI
    Column("auth_req_hash", String(64), nullable=False, unique=True, index=True),  # SHA-256 of auth_req_id
    Column("client_id", String(200), nullable=False),
    Column("username", String(200), nullable=False, index=True),
    Column("resource", String(500), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("binding_message", Text, nullable=True),
    Column("status", String(20), nullable=False),  # pending | approved | denied | issued
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("interval", Integer, nullable=False),  # grows by 5 s at each slow_down
    Column("last_polled_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("consent_id", String(64), nullable=True),  # the consent an approval created
    Column("issued_jti", String(64), nullable=True),
)
