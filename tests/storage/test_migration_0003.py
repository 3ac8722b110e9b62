"""Migration 0003 (partner authorization servers) on a database that has lived at 0002: the data
stays, the new table appears, and trusted issuers saved before issue 4 read as not ID-JAG issuers."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from deputy.realm import PartnerServer
from deputy.storage.database import Database, alembic_config
from deputy.storage.issuer_store import IssuerStore
from deputy.storage.partner_store import PartnerStore
from deputy.storage.schema import metadata, trusted_issuers, users


def _upgrade(db: Database, revision: str) -> None:
    with db.engine.connect() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def test_upgrade_from_0002_keeps_data(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _upgrade(db, "0002")
        with db.engine.connect() as conn:
            assert "partner_servers" not in inspect(conn).get_table_names()
        old_config = {"jwks_uri": "https://idp.example.com/jwks", "user_claim": "sub",
                      "agent_audiences": [["incident-agent", ["api://incident-agent"]]]}
        with db.write() as conn:
            conn.execute(insert(users).values(username="jane", display_name="Jane", email="", disabled=False))
            conn.execute(insert(trusted_issuers).values(issuer="https://idp.example.com", config=old_config, updated_at=1))

        db.migrate()  # to head, as a server start does

        with db.engine.connect() as conn:
            assert "partner_servers" in inspect(conn).get_table_names()
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            assert conn.execute(select(users.c.username)).scalars().all() == ["jane"]
        issuer = IssuerStore(db).get_trusted_issuer("https://idp.example.com")
        assert issuer is not None and issuer.id_jag is False
        assert issuer.agent_audiences == (("incident-agent", ("api://incident-agent",)),)

        partners = PartnerStore(db)
        partner = PartnerServer("https://as.example", agent_clients=(("incident-agent", "x"),), scopes=("a",))
        with db.write() as conn:
            partners.put(conn, partner, 2)
        assert partners.get_partner("https://as.example") == partner
    finally:
        db.dispose()


def test_downgrade_to_0002_removes_only_the_new_table(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        db.migrate()
        with db.engine.connect() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
            conn.commit()
            tables = set(inspect(conn).get_table_names())
        assert "partner_servers" not in tables and "trusted_issuers" in tables
    finally:
        db.dispose()
