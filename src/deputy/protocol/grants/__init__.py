"""Grant types, one module each, registered through one registry that the built-ins use too."""

from __future__ import annotations

from deputy.protocol.grants.base import Grant, GrantRegistry, Issued, Trace, default_grants

__all__ = ["Grant", "GrantRegistry", "Issued", "Trace", "default_grants"]
