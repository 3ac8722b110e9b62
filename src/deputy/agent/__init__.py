"""The agent SDK: downstream tokens for the user an agent serves (docs/agent-sdk.md).

Configure a :class:`CredentialProvider` per downstream API (RFC 8693 token exchange, Entra
on-behalf-of, Okta cross-app access, client credentials, user federation), put them in a :class:`TokenBroker`
(with its :class:`TokenVault`), and let tools ask with ``@requires_access_token`` or an
``httpx`` client using :class:`DownstreamAuth`. :class:`InboundAuthorizer` verifies the user's
token on the way in (RFC 9068 tokens; Entra v2 tokens with ``InboundAuthorizer.for_entra``) and
makes it the current user token for that request only. A vault shared by agent processes keeps
tokens sealed in SQLite (:class:`SQLiteVaultStore`) or Redis (:class:`RedisVaultStore`, needs
``redis``), user federation's refresh tokens included. ``deputy.agent.mcp`` (needs ``mcp``, and
is imported only on purpose) lets an MCP client session call a protected MCP server as the user.
Depends only on httpx, joserfc and cryptography.
"""

from __future__ import annotations

from deputy.agent.asgi import InboundAuthorizer
from deputy.agent.auth import DownstreamAuth
from deputy.agent.broker import TokenBroker
from deputy.agent.ciba import ApprovalDenied, ApprovalExpired, BackchannelApproval
from deputy.agent.client_auth import ClientAuth, ClientSecret, PrivateKeyJWT
from deputy.agent.config import (
    load_providers,
    provider_from_dict,
    providers_from_dict,
    providers_from_env,
)
from deputy.agent.context import current_user_token, user_token
from deputy.agent.decorator import default_broker, requires_access_token, set_default_broker
from deputy.agent.entra import EntraTokenVerifier
from deputy.agent.errors import (
    AgentError,
    AuthorizationRequired,
    ConfigurationError,
    DownstreamRefused,
    NoUserToken,
    TokenRequestFailed,
)
from deputy.agent.flows import (
    ActorToken,
    ClientCredentials,
    CrossAppAccess,
    OnBehalfOf,
    TokenExchange,
)
from deputy.agent.provider import CredentialProvider, Flow
from deputy.agent.redis_store import RedisVaultStore
from deputy.agent.store import SQLiteVaultStore, VaultStore, new_vault_key
from deputy.agent.token import Token, UserToken
from deputy.agent.user_federation import MemoryRefreshTokens, RefreshTokenStore, UserFederation
from deputy.agent.vault import TokenVault, VaultKey

__all__ = [
    "ActorToken",
    "AgentError",
    "ApprovalDenied",
    "ApprovalExpired",
    "AuthorizationRequired",
    "BackchannelApproval",
    "ClientAuth",
    "ClientCredentials",
    "ClientSecret",
    "ConfigurationError",
    "CredentialProvider",
    "CrossAppAccess",
    "DownstreamAuth",
    "DownstreamRefused",
    "EntraTokenVerifier",
    "Flow",
    "InboundAuthorizer",
    "MemoryRefreshTokens",
    "NoUserToken",
    "OnBehalfOf",
    "PrivateKeyJWT",
    "RedisVaultStore",
    "RefreshTokenStore",
    "SQLiteVaultStore",
    "Token",
    "TokenBroker",
    "TokenExchange",
    "TokenRequestFailed",
    "TokenVault",
    "UserFederation",
    "UserToken",
    "VaultKey",
    "VaultStore",
    "current_user_token",
    "default_broker",
    "load_providers",
    "new_vault_key",
    "provider_from_dict",
    "providers_from_dict",
    "providers_from_env",
    "requires_access_token",
    "set_default_broker",
    "user_token",
]
