"""A real Deputy under uvicorn for the agent SDK's tests, and helpers to read its audit trail."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def issued(base: str) -> list[dict[str, Any]]:
    """Every ``token.issued`` event in Deputy's audit trail: one per token request that succeeded."""
    response = httpx.get(f"{base}/admin/audit", params={"type": "token.issued", "order": "asc"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events
