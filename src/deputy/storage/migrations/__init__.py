"""Alembic migrations; run by :meth:`deputy.storage.Database.migrate` (no alembic.ini needed)."""
