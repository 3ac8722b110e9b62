"""Migration 0004 (human approval) on a database that has lived at 0003: resources keep their
data and need no approval for any scope; the backchannel table appears; downgrade removes only
what 0004 added."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect

from deputy.realm import Resource
from deputy.storage.database import Database, alembic_config
from deputy.storage.realm_store import RealmStore
from deputy.storage.schema import metadata, resources


def _run(db: Database, action: str, revision: str) -> None:
    with db.engine.connect() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        getattr(command, action)(config, revision)
        conn.commit()


def test_upgrade_from_0003_keeps_resources(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _run(db, "upgrade", "0003")
        with db.write() as conn:
            conn.execute(insert(resources).values(
                identifier="https://api.example", name="API", scopes=["a", "b"], signing_alg="ES256", token_ttl=300,
            ))
        db.migrate()
        with db.engine.connect() as conn:
            assert "backchannel_requests" in inspect(conn).get_table_names()
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        realm = RealmStore(db)
        assert realm.get_resource("https://api.example") == Resource("https://api.example", "API", ("a", "b"))
        with db.write() as conn:
            realm.put_resource(conn, Resource("https://api.example", "API", ("a", "b"), approval_scopes=("b",)))
        stored = realm.get_resource("https://api.example")
        assert stored is not None and stored.approval_scopes == ("b",)
    finally:
        db.dispose()


def test_downgrade_to_0003_removes_only_what_0004_added(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        db.migrate()
        _run(db, "downgrade", "0003")
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            columns = {c["name"] for c in inspect(conn).get_columns("resources")}
        assert "backchannel_requests" not in tables and "partner_servers" in tables
        assert "approval_scopes" not in columns and "token_ttl" in columns
    finally:
        db.dispose()
