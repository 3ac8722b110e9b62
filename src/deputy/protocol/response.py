"""A framework-free response: status, JSON body, headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
