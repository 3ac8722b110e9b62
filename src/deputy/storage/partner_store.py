"""Partner authorization servers in SQL: one row per server, its settings in a JSON column."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from deputy.realm import PartnerServer
from deputy.storage.database import Database
from deputy.storage.schema import partner_servers


def _config(partner: PartnerServer) -> dict[str, Any]:
    return {
        "name": partner.name,
        "agent_clients": [list(pair) for pair in partner.agent_clients],
        "scopes": list(partner.scopes),
        "resources": list(partner.resources),
        "signing_alg": partner.signing_alg,
    }


def _partner(issuer: str, config: dict[str, Any]) -> PartnerServer:
    defaults = PartnerServer(issuer)
    return PartnerServer(
        issuer=issuer,
        name=str(config.get("name", "")),
        agent_clients=tuple((str(a), str(b)) for a, b in config.get("agent_clients", [])),
        scopes=tuple(str(s) for s in config.get("scopes", [])),
        resources=tuple(str(r) for r in config.get("resources", [])),
        signing_alg=str(config.get("signing_alg", defaults.signing_alg)),
    )


class PartnerStore:
    """Implements :class:`deputy.protocol.chaining_ports.PartnerDirectory`; writes take the
    caller's transaction so that a change and its audit event commit together."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_partner(self, issuer: str) -> PartnerServer | None:
        with self._db.read() as conn:
            row = conn.execute(select(partner_servers).where(partner_servers.c.issuer == issuer)).first()
        return None if row is None else _partner(row.issuer, dict(row.config))

    def list_partners(self) -> list[PartnerServer]:
        with self._db.read() as conn:
            rows = conn.execute(select(partner_servers).order_by(partner_servers.c.issuer)).all()
        return [_partner(row.issuer, dict(row.config)) for row in rows]

    @staticmethod
    def put(conn: Connection, partner: PartnerServer, now: int) -> None:
        values = {"config": _config(partner), "updated_at": now}
        exists = conn.execute(
            select(partner_servers.c.issuer).where(partner_servers.c.issuer == partner.issuer)
        ).first()
        if exists:
            conn.execute(update(partner_servers).where(partner_servers.c.issuer == partner.issuer).values(**values))
        else:
            conn.execute(insert(partner_servers).values(issuer=partner.issuer, **values))

    @staticmethod
    def delete(conn: Connection, issuer: str) -> None:
        conn.execute(delete(partner_servers).where(partner_servers.c.issuer == issuer))
