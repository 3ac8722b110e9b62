"""Trusted external issuers in SQL (one row per issuer, its settings in a JSON column), and the
provisioning of users they introduce."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from deputy.audit import AuditEvent
from deputy.clock import Clock
from deputy.realm import Group, TrustedIssuer, User
from deputy.storage.audit_store import append_in
from deputy.storage.database import Database
from deputy.storage.realm_store import RealmStore
from deputy.storage.schema import groups, trusted_issuers, users


def _config(issuer: TrustedIssuer) -> dict[str, Any]:
    return {
        "discovery_url": issuer.discovery_url,
        "jwks_uri": issuer.jwks_uri,
        "user_claim": issuer.user_claim,
        "provision": issuer.provision,
        "groups_claim": issuer.groups_claim,
        "group_map": [list(pair) for pair in issuer.group_map],
        "agent_audiences": [[agent, list(values)] for agent, values in issuer.agent_audiences],
        "algorithms": list(issuer.algorithms),
        "token_types": list(issuer.token_types),
        "id_jag": issuer.id_jag,
    }


def _issuer(name: str, config: dict[str, Any]) -> TrustedIssuer:
    defaults = TrustedIssuer(name)
    return TrustedIssuer(
        issuer=name,
        discovery_url=str(config.get("discovery_url", "")),
        jwks_uri=str(config.get("jwks_uri", "")),
        user_claim=str(config.get("user_claim", defaults.user_claim)),
        provision=bool(config.get("provision", False)),
        groups_claim=str(config.get("groups_claim", "")),
        group_map=tuple((str(a), str(b)) for a, b in config.get("group_map", [])),
        agent_audiences=tuple((str(a), tuple(str(v) for v in vs)) for a, vs in config.get("agent_audiences", [])),
        algorithms=tuple(config.get("algorithms", defaults.algorithms)),
        token_types=tuple(config.get("token_types", defaults.token_types)),
        id_jag=bool(config.get("id_jag", False)),  # absent in rows written before issue 4
    )


class IssuerStore:
    """Implements :class:`deputy.protocol.ports.IssuerDirectory`; writes take the caller's
    transaction so that a change and its audit event commit together."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_trusted_issuer(self, issuer: str) -> TrustedIssuer | None:
        with self._db.read() as conn:
            row = conn.execute(select(trusted_issuers).where(trusted_issuers.c.issuer == issuer)).first()
        return None if row is None else _issuer(row.issuer, dict(row.config))

    def list_trusted_issuers(self) -> list[TrustedIssuer]:
        with self._db.read() as conn:
            rows = conn.execute(select(trusted_issuers).order_by(trusted_issuers.c.issuer)).all()
        return [_issuer(row.issuer, dict(row.config)) for row in rows]

    @staticmethod
    def put(conn: Connection, issuer: TrustedIssuer, now: int) -> None:
        values = {"config": _config(issuer), "updated_at": now}
        exists = conn.execute(
            select(trusted_issuers.c.issuer).where(trusted_issuers.c.issuer == issuer.issuer)
        ).first()
        if exists:
            conn.execute(update(trusted_issuers).where(trusted_issuers.c.issuer == issuer.issuer).values(**values))
        else:
            conn.execute(insert(trusted_issuers).values(issuer=issuer.issuer, **values))

    @staticmethod
    def delete(conn: Connection, issuer: str) -> None:
        conn.execute(delete(trusted_issuers).where(trusted_issuers.c.issuer == issuer))


class UserProvisioning:
    """Implements :class:`deputy.protocol.ports.UserProvisioner`."""

    def __init__(self, db: Database, realm: RealmStore, clock: Clock) -> None:
        self._db = db
        self._realm = realm
        self._clock = clock

    def provision_user(self, user: User, event: AuditEvent) -> User:
        for _ in range(2):  # a second try after losing a race to create the user or a group
            try:
                self._create(user, event)
                break
            except IntegrityError:
                continue
        stored = self._realm.get_user(user.username)
        if stored is None:
            raise LookupError(f"user {user.username} could not be provisioned")
        return stored

    def _create(self, user: User, event: AuditEvent) -> None:
        with self._db.write(audit=True) as conn:
            if conn.execute(select(users.c.username).where(users.c.username == user.username)).first():
                return  # someone else created it first: theirs stands
            for group in dict.fromkeys(user.groups):
                if not conn.execute(select(groups.c.name).where(groups.c.name == group)).first():
                    RealmStore.put_group(conn, Group(group))
            RealmStore.put_user(conn, user)
            append_in(conn, event, self._clock.now())
