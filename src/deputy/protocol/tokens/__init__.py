"""Access token claims (RFC 9068 + RFC 8693 act), issuing, and reading Deputy's own tokens."""

from __future__ import annotations

from deputy.protocol.tokens.claims import act_chain, act_depth, build_act, access_token_claims
from deputy.protocol.tokens.own import OwnToken, TokenInactive, read_own_token

__all__ = [
    "OwnToken",
    "TokenInactive",
    "access_token_claims",
    "act_chain",
    "act_depth",
    "build_act",
    "read_own_token",
]
