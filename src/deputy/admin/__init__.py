"""Realm administration shared by the CLI and the admin HTTP API: every change audited."""

from __future__ import annotations

from deputy.admin.service import IssuedSecret, RealmAdmin

__all__ = ["IssuedSecret", "RealmAdmin"]
