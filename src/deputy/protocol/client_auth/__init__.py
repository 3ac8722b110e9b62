"""Client authentication (RFC 6749 §2.3, RFC 7523 §2.2), as a registry of methods."""

from __future__ import annotations

from deputy.protocol.client_auth.base import (
    AuthenticatedClient,
    ClientAuthenticator,
    ClientAuthMethod,
    default_authenticator,
)

__all__ = ["AuthenticatedClient", "ClientAuthMethod", "ClientAuthenticator", "default_authenticator"]
