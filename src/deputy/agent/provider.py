"""A credential provider: one downstream API, the flow that gets tokens for it, and where.

Everything here is sans-I/O. A flow is a generator that yields ``httpx.Request`` objects and
receives the ``httpx.Response`` to each (the model is HTTPX's ``Auth.auth_flow``), then returns a
:class:`~deputy.agent.token.Token`; :class:`~deputy.agent.broker.TokenBroker` drives it on a
blocking or an asyncio client, so both share every decision.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from deputy.agent.client_auth import ClientAuth
from deputy.agent.errors import ConfigurationError, TokenRequestFailed
from deputy.agent.token import Token, UserToken
from deputy.resource.fetch import check_url

__all__ = ["CredentialProvider", "Flow", "Steps", "discovery_urls"]

Steps = Generator[httpx.Request, httpx.Response, Any]
DEFAULT_LIFETIME = 60  # seconds a token without expires_in is reused
MAX_BODY = 256 * 1024
NO_ANSWER = 0  # the status a driver reports when the server could not be reached


class Flow(Protocol):
    """How a provider gets a token (``TokenExchange``, ``OnBehalfOf``, ...)."""

    @property
    def name(self) -> str:
        """Named in errors and logs (``token_exchange``, ``on_behalf_of``, ...)."""
        ...

    @property
    def needs_user(self) -> bool:
        """True when the flow acts for the user (and so needs the user's token)."""
        ...

    def run(self, provider: CredentialProvider, user: UserToken | None, scopes: tuple[str, ...]) -> Steps:
        """Yield requests, receive responses, return a :class:`Token`."""
        ...


def discovery_urls(issuer: str) -> tuple[str, str]:
    """RFC 8414 §3.1 then OpenID Connect Discovery 1.0 §4 metadata URLs for ``issuer``."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", ""))
    oidc = urlunsplit((parts.scheme, parts.netloc, path + "/.well-known/openid-configuration", "", ""))
    return rfc8414, oidc


@dataclass
class CredentialProvider:
    """One downstream API, configured once.

    Give ``token_endpoint``, or ``issuer`` to find it by RFC 8414 (then OIDC) discovery.
    ``audience``/``resource`` name the downstream API (RFC 8693 §2.1, RFC 8707); ``scopes`` are
    the defaults a call may override. Bad settings raise :class:`ConfigurationError` here.
    """

    name: str
    flow: Flow
    client: ClientAuth
    token_endpoint: str | None = None
    issuer: str | None = None
    audience: str | None = None
    resource: str | None = None
    scopes: tuple[str, ...] = ()
    timeout: float = 10.0
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _metadata: dict[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("a credential provider needs a name")
        if self.token_endpoint is None and self.issuer is None:
            raise ConfigurationError(f"provider {self.name!r}: give token_endpoint or issuer")
        for label, url in (("token_endpoint", self.token_endpoint), ("issuer", self.issuer)):
            if url is not None and (problem := check_url(url)) is not None:
                raise ConfigurationError(f"provider {self.name!r}: {label} {problem}")
        self.scopes = tuple(self.scopes)

    # -- steps the flows are made of ------------------------------------------------------------

    def metadata(self, issuer: str) -> Steps:
        """RFC 8414 metadata of ``issuer`` (cached); its ``issuer`` must match (§3.3)."""
        cached = self._metadata.get(issuer)
        if cached is not None:
            return cached
        last: TokenRequestFailed | None = None
        for url in discovery_urls(issuer):
            response = yield httpx.Request("GET", url, headers={"Accept": "application/json"},
                                           extensions=self._timeout())
            if response.status_code == 404:
                last = self.failed(url, response.status_code, "not_found", "no metadata here", step="discovery")
                continue
            document = self._json(url, response, step="discovery")
            if response.status_code != 200:
                raise self.failed(url, response.status_code, None, None, step="discovery")
            if document.get("issuer") != issuer:
                raise self.failed(url, 200, "invalid_metadata",
                                  f"names issuer {document.get('issuer')!r}, not {issuer!r}", step="discovery")
            endpoint = document.get("token_endpoint")
            if not isinstance(endpoint, str) or check_url(endpoint) is not None:
                raise self.failed(url, 200, "invalid_metadata", "no usable token_endpoint", step="discovery")
            self._metadata[issuer] = document
            return document
        raise last or self.failed(issuer, None, None, None, step="discovery")

    def endpoint(self) -> Steps:
        """The token endpoint: configured, or discovered from the issuer."""
        if self.token_endpoint is not None:
            return self.token_endpoint
        if self.issuer is None:  # pragma: no cover - __post_init__ guarantees one of the two
            raise ConfigurationError(f"provider {self.name!r}: give token_endpoint or issuer")
        document = yield from self.metadata(self.issuer)
        return str(document["token_endpoint"])

    def token_request(
        self, endpoint: str, data: Mapping[str, str], *, client: ClientAuth | None = None, step: str | None = None
    ) -> Steps:
        """POST ``data`` (plus client authentication) to ``endpoint``; return the :class:`Token`."""
        form = {k: v for k, v in data.items() if v}
        headers = {"Accept": "application/json"}
        (client or self.client).apply(endpoint, form, headers)
        request = httpx.Request("POST", endpoint, data=form, headers=headers, extensions=self._timeout())
        response = yield request
        body = self._json(endpoint, response, step=step)
        if response.status_code != 200:
            error = body.get("error")
            description = body.get("error_description")
            failure = self.failed(
                endpoint, response.status_code,
                error if isinstance(error, str) else None,
                description[:300] if isinstance(description, str) else None,
                step=step,
            )
            # Entra: consent_required and friends as suberror; a Conditional Access claims
            # challenge to hand back to the caller (interaction_required).
            suberror, claims = body.get("suberror"), body.get("claims")
            failure.suberror = suberror[:100] if isinstance(suberror, str) else None
            failure.claims = claims[:4096] if isinstance(claims, str) else None
            raise failure
        return self.read_token(endpoint, body, step=step)

    def read_token(self, endpoint: str, body: Mapping[str, Any], *, step: str | None = None) -> Token:
        value = body.get("access_token")
        token_type = body.get("token_type")
        if not isinstance(value, str) or not value or not isinstance(token_type, str):
            raise self.failed(endpoint, 200, "invalid_response", "no access_token or token_type", step=step)
        expires_in = body.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else DEFAULT_LIFETIME
        scope = body.get("scope")
        issued = body.get("issued_token_type")
        refresh = body.get("refresh_token")
        return Token(
            value=value,
            token_type=token_type,
            expires_at=int(self.clock()) + lifetime,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            issued_token_type=issued if isinstance(issued, str) else None,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        )

    def target(self, scopes: Iterable[str]) -> dict[str, str]:
        """The target parameters every flow sends: scope, audience, resource."""
        return {"scope": " ".join(scopes), "audience": self.audience or "", "resource": self.resource or ""}

    def failed(
        self, endpoint: str, status: int | None, error: str | None, description: str | None, *, step: str | None
    ) -> TokenRequestFailed:
        status = None if status == NO_ANSWER else status
        return TokenRequestFailed(self.name, self.flow.name, endpoint=endpoint, status=status, error=error,
                                  description=description, step=step)

    def _json(self, url: str, response: httpx.Response, *, step: str | None) -> dict[str, Any]:
        if len(response.content) > MAX_BODY:
            raise self.failed(url, response.status_code, None, "answer too large", step=step)
        try:
            document = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict):
            raise self.failed(url, response.status_code, None, "answer is not a JSON object", step=step)
        return document

    def _timeout(self) -> dict[str, Any]:
        return {"timeout": httpx.Timeout(self.timeout).as_dict()}
