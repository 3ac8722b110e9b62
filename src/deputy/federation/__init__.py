"""Trusted external issuers, the network side: discovery and JWKS fetching with a per-issuer key
cache. The protocol core reaches it only through :class:`deputy.protocol.ports.ExternalKeys`."""

from __future__ import annotations

from deputy.federation.keys import IssuerKeyCache

__all__ = ["IssuerKeyCache"]
