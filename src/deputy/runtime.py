"""Wiring: settings + store -> the protocol context, endpoints and admin service."""

from __future__ import annotations

import secrets as stdlib_secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from deputy.accounts import Accounts
from deputy.admin import RealmAdmin
from deputy.clock import Clock
from deputy.config import Settings
from deputy.federation import IssuerKeyCache
from deputy.protocol.chaining_ports import IdentityChaining
from deputy.protocol.client_auth import default_authenticator
from deputy.protocol.context import ServerContext
from deputy.protocol.ports import Federation
from deputy.protocol.authorization import AuthorizationEndpoint
from deputy.protocol.backchannel import Approvals, BackchannelEndpoint
from deputy.protocol.grants import default_grants
from deputy.protocol.grants.authorization_code import AuthorizationCodeGrant
from deputy.protocol.grants.ciba import CibaGrant
from deputy.protocol.grants.refresh_token import RefreshTokenGrant
from deputy.protocol.introspection import IntrospectionEndpoint
from deputy.protocol.revocation import RevocationEndpoint
from deputy.protocol.token_endpoint import TokenEndpoint
from deputy.ratelimit import rate_limits_for
from deputy.storage import Store


@dataclass
class Deputy:
    settings: Settings
    store: Store
    context: ServerContext
    token: TokenEndpoint
    introspection: IntrospectionEndpoint
    revocation: RevocationEndpoint

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None, *, initialise: bool = True) -> Deputy:
        if settings.db_url.startswith("sqlite:///") and not settings.database_url:
            settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys live in the store
        store = Store(settings.db_url, clock, settings.key_refresh_seconds)
        if initialise:
            store.initialise()
        ctx = ServerContext(
            settings=settings, realm=store.realm_cache, tokens=store.tokens, audit=store.audit,
            replay=store.replay, keys=store.keys, clock=store.clock,
            federation=Federation(
                issuers=store.issuers,
                keys=IssuerKeyCache(
                    store.clock, refresh_interval=settings.issuer_keys_refresh_seconds,
                    max_age=settings.issuer_keys_max_age, timeout=settings.issuer_fetch_timeout,
                ),
                users=store.provisioning,
            ),
            # ID-JAGs for partner authorization servers, from id_tokens or refresh tokens
            chaining=IdentityChaining(partners=store.partners, refresh_tokens=store.codes, consents=store.consents),
        )
        authenticator = default_authenticator()
        grants = default_grants()
        # Sign-in grants hold their own ledgers (codes, refresh tokens, consents).
        grants.register(AuthorizationCodeGrant(store.codes, store.consents))
        grants.register(RefreshTokenGrant(store.codes, store.consents))
        # Human approval: the agent polls for the token the user approved (docs/approvals.md).
        grants.register(CibaGrant(store.backchannel, store.consents))
        return cls(
            settings=settings,
            store=store,
            context=ctx,
            token=TokenEndpoint(ctx, grants, authenticator, limits=rate_limits_for(settings, store.clock)),
            introspection=IntrospectionEndpoint(ctx, authenticator),
            revocation=RevocationEndpoint(ctx, authenticator, store.codes),
        )

    @cached_property
    def authorization(self) -> AuthorizationEndpoint:
        """The authorization endpoint's decisions (sign-in flow; docs/sign-in.md)."""
        return AuthorizationEndpoint(self.context, self.store.consents, self.store.codes)

    @cached_property
    def backchannel(self) -> BackchannelEndpoint:
        """``/bc-authorize``: an agent asks a user to approve (OpenID CIBA, docs/approvals.md)."""
        return BackchannelEndpoint(self.context, self.store.backchannel, self.token.authenticator)

    @cached_property
    def approvals(self) -> Approvals:
        """Users' pending backchannel requests and their decisions (console and CLI)."""
        return Approvals(self.context, self.store.backchannel)

    @cached_property
    def accounts(self) -> Accounts:
        """Local users' passwords, lock-out and sessions."""
        return Accounts(self.store.accounts, self.store.realm, self.store.audit, self.settings, self.store.clock)

    def admin(self, actor: str = "admin") -> RealmAdmin:
        return RealmAdmin(self.store, self.settings, actor)

    def close(self) -> None:
        self.store.close()


def admin_token_for(settings: Settings) -> str:
    """The admin credential: from settings, else a random one kept in the home directory."""
    if settings.admin_token:
        return settings.admin_token
    path: Path = settings.home / "admin-token"
    if path.exists():
        return path.read_text().strip()
    settings.home.mkdir(parents=True, exist_ok=True)
    token = "dpa_" + stdlib_secrets.token_urlsafe(32)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token
