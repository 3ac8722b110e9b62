"""The agent SDK's errors: each says which provider, which flow and what the server said.

No message ever holds a token or a secret: only the provider's name, the flow, the token
endpoint, the OAuth ``error`` code and ``error_description`` the server returned (RFC 6749 §5.2),
and the HTTP status.
"""

from __future__ import annotations

__all__ = ["AgentError", "AuthorizationRequired", "ConfigurationError", "DownstreamRefused", "NoUserToken",
           "TokenRequestFailed"]


class AgentError(Exception):
    """Base of every error the agent SDK raises while getting a token."""


class ConfigurationError(AgentError, ValueError):
    """A provider or client configuration is unusable: raised when it is built, not on a request."""


class NoUserToken(AgentError):
    """A flow that acts for the user ran outside a request that carries the user's token."""

    def __init__(self, provider: str, flow: str) -> None:
        self.provider = provider
        self.flow = flow
        super().__init__(
            f"provider {provider!r} ({flow}) needs the user's token, and none is set: run inside "
            "InboundAuthorizer, `with user_token(...)`, or pass user_token="
        )


class TokenRequestFailed(AgentError):
    """The authorization server refused (or could not answer) a token request.

    ``error`` and ``description`` are what the server said (``error`` is None when it did not
    answer with an OAuth error: a network failure, a 5xx, a body that is not JSON); ``status`` is
    the HTTP status (None when there was no answer); ``endpoint`` the URL asked.
    """

    def __init__(
        self,
        provider: str,
        flow: str,
        *,
        endpoint: str,
        status: int | None,
        error: str | None,
        description: str | None = None,
        step: str | None = None,
    ) -> None:
        self.provider = provider
        self.flow = flow
        self.endpoint = endpoint
        self.status = status
        self.error = error
        self.description = description
        self.step = step
        self.suberror: str | None = None  # Entra's finer reason, e.g. consent_required
        self.claims: str | None = None  # Entra's claims challenge with interaction_required
        where = f"{flow}, {step}" if step else flow
        said = error or "no OAuth error"
        if description:
            said += f": {description}"
        status_text = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"provider {provider!r} ({where}) at {endpoint}: {status_text}, {said}")

    @property
    def is_invalid_user_token(self) -> bool:
        """The server refused the user's token (expired, revoked, for another client): the user
        must sign in again; retrying will not help."""
        return self.error in ("invalid_grant", "invalid_request") and self.status == 400


class AuthorizationRequired(AgentError):
    """User federation (3-legged): the user must approve access in a browser first.

    Show ``authorization_url`` to the user; when the browser comes back to the redirect URI, call
    ``TokenBroker.complete_authorization(provider, code=..., state=...)``; the next call for this
    provider then gets the token (and later refreshes it) without the user. ``state`` ties the
    callback to this user and this request; the URL holds no secret.
    """

    def __init__(self, provider: str, flow: str, authorization_url: str, state: str) -> None:
        self.provider = provider
        self.flow = flow
        self.authorization_url = authorization_url
        self.state = state
        super().__init__(
            f"provider {provider!r} ({flow}) needs the user's approval: send them to {authorization_url}"
        )


class DownstreamRefused(AgentError):
    """The downstream API (an MCP server, say) refused the token a provider gave: HTTP 401 or 403.

    ``error``, ``description`` and ``scope`` come from its ``WWW-Authenticate`` challenge (RFC 6750
    §3): ``insufficient_scope`` with the scope it needs tells you to configure the provider's
    scopes (or the user's entitlements); ``invalid_token`` after a refresh means the new token was
    refused too.
    """

    def __init__(self, provider: str, url: str, status: int, error: str | None = None,
                 description: str | None = None, scope: str | None = None) -> None:
        self.provider = provider
        self.url = url
        self.status = status
        self.error = error
        self.description = description
        self.scope = scope
        said = error or "no OAuth error"
        if description:
            said += f": {description}"
        needs = f" (it needs scope {scope!r})" if scope else ""
        super().__init__(f"provider {provider!r}: {url} refused the token: HTTP {status}, {said}{needs}")
