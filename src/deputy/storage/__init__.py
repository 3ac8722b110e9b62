"""SQL storage (SQLite by default, PostgreSQL in production) behind the core's small protocols."""

from __future__ import annotations

from deputy.storage.database import Database
from deputy.storage.store import Store

__all__ = ["Database", "Store"]
