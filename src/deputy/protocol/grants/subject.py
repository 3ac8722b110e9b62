"""A verified subject token, reduced to what a token exchange decides on, whoever issued it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deputy.realm import User


@dataclass(frozen=True)
class Subject:
    user: User
    expires_at: int
    # The Deputy token it was read from (the lineage parent); None for an external issuer's token.
    parent_jti: str | None = None
    act: Mapping[str, Any] | None = None  # the prior chain, nested inside the new actor
    # Issued by an exchange (so its own scopes bound what can be delegated further).
    downstream: bool = False
    scopes: frozenset[str] | None = None
    may_act: object = None  # the raw claim, for the decision; None when absent or already checked
    audit: Mapping[str, Any] = field(default_factory=dict)  # extra data for the token.issued event
