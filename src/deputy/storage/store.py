"""The store: one database, the role-named stores on top of it."""

from __future__ import annotations

from deputy.clock import Clock, SystemClock
from deputy.storage.account_store import AccountStore
from deputy.storage.audit_store import AuditStore
from deputy.storage.backchannel_store import BackchannelStore
from deputy.storage.code_store import CodeStore
from deputy.storage.consent_store import ConsentStore
from deputy.storage.database import Database
from deputy.storage.issuer_store import IssuerStore, UserProvisioning
from deputy.storage.key_store import KeyStore
from deputy.storage.partner_store import PartnerStore
from deputy.storage.realm_cache import RealmCache
from deputy.storage.realm_store import RealmStore
from deputy.storage.replay_store import ReplayStore
from deputy.storage.token_store import TokenStore


class Store:
    def __init__(
        self, url: str, clock: Clock | None = None, key_refresh_seconds: int = 30, realm_cache_seconds: float = 1.0
    ) -> None:
        self.clock = clock or SystemClock()
        self.db = Database(url)
        self.realm = RealmStore(self.db)
        # The token path's realm reads; fresh within realm_cache_seconds across processes.
        self.realm_cache = RealmCache(self.realm, self.db, realm_cache_seconds)
        self.tokens = TokenStore(self.db, self.clock)
        self.audit = AuditStore(self.db, self.clock)
        # sign-in: accounts and sessions, consents, authorization codes and refresh tokens
        self.accounts = AccountStore(self.db, self.clock)
        self.consents = ConsentStore(self.db, self.clock, self.tokens)
        self.codes = CodeStore(self.db, self.clock, self.tokens)
        self.replay = ReplayStore(self.db, self.clock)
        self.keys = KeyStore(self.db, self.clock, key_refresh_seconds)
        # trusted external issuers, and the users they introduce
        self.issuers = IssuerStore(self.db)
        self.provisioning = UserProvisioning(self.db, self.realm, self.clock)
        # partner authorization servers Deputy issues ID-JAGs for (docs/dialects.md)
        self.partners = PartnerStore(self.db)
        # human approval: backchannel authentication requests (OpenID CIBA, docs/approvals.md)
        self.backchannel = BackchannelStore(self.db, self.clock)

    def initialise(self) -> None:
        """Create the schema if needed and make sure signing keys exist."""
        self.db.create_schema()
        self.keys.ensure_keys()

    def close(self) -> None:
        self.tokens.close()
        self.db.dispose()
