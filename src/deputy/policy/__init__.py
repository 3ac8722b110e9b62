"""The delegation decision: inputs in, a Decision out. No I/O."""

from __future__ import annotations

from deputy.policy.delegation import Decision, DelegationRequest, decide

__all__ = ["Decision", "DelegationRequest", "decide"]
