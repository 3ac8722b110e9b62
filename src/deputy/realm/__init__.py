"""The realm: users, groups, agents, resources and entitlements (plain data, no storage)."""

from __future__ import annotations

from deputy.realm.models import (
    AgentStatus,
    Agent,
    AgentKey,
    AgentSecret,
    Entitlement,
    Group,
    PartnerServer,
    Resource,
    ResourceGrant,
    TrustedIssuer,
    User,
)

__all__ = [
    "Agent",
    "AgentKey",
    "AgentSecret",
    "AgentStatus",
    "Entitlement",
    "Group",
    "PartnerServer",
    "Resource",
    "ResourceGrant",
    "TrustedIssuer",
    "User",
]
