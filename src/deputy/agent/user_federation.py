"""User federation: 3-legged OAuth (authorization code + PKCE, RFC 6749 §4.1, RFC 7636) for
third-party APIs that will not exchange tokens.

The first call for a user raises :class:`~deputy.agent.errors.AuthorizationRequired` with an
authorization URL (PKCE S256, a random ``state``, ``resource`` per RFC 8707); the app shows it to
the user; its callback hands ``code`` and ``state`` to ``TokenBroker.complete_authorization``. The
access token goes into the vault; the refresh token is kept in a :class:`RefreshTokenStore` per
user identity, provider and scopes, and used when the access token runs out (RFC 6749 §6), so the
user is asked again only when the refresh token is refused. The store is the vault's shared store
(SQLite or Redis, sealed) when the broker has one, so another agent process can refresh; else
process memory (bounded).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import urlencode

from deputy.agent.errors import AuthorizationRequired, ConfigurationError, TokenRequestFailed
from deputy.agent.provider import CredentialProvider, Steps
from deputy.agent.token import Token, UserToken
from deputy.constants import GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN
from deputy.resource.fetch import check_url

__all__ = ["Completed", "MemoryRefreshTokens", "RefreshTokenStore", "UserFederation"]

PENDING_LIFETIME = 600
MAX_PENDING = 1024
MAX_REFRESH_TOKENS = 4096


@runtime_checkable
class RefreshTokenStore(Protocol):
    """Where user federation keeps refresh tokens: per user identity, provider and scopes."""

    def load_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> str | None: ...

    def save_refresh_token(
        self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...], refresh_token: str
    ) -> None: ...

    def delete_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> None: ...


class MemoryRefreshTokens:
    """Refresh tokens in this process's memory, bounded (least recently saved go first)."""

    def __init__(self, max_entries: int = MAX_REFRESH_TOKENS) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._tokens: OrderedDict[tuple[tuple[str, str], str, tuple[str, ...]], str] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryRefreshTokens(entries={len(self._tokens)})"

    def load_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> str | None:
        with self._lock:
            return self._tokens.get((identity, provider, scopes))

    def save_refresh_token(
        self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...], refresh_token: str
    ) -> None:
        with self._lock:
            self._tokens[(identity, provider, scopes)] = refresh_token
            self._tokens.move_to_end((identity, provider, scopes))
            while len(self._tokens) > self.max_entries:
                self._tokens.popitem(last=False)

    def delete_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop((identity, provider, scopes), None)


@dataclass(frozen=True)
class _Pending:
    identity: tuple[str, str]
    scopes: tuple[str, ...]
    verifier: str = field(repr=False)
    created: float


@dataclass(frozen=True)
class Completed:
    """What a completed authorization gives: whose token, for which scopes, and the token."""

    identity: tuple[str, str]
    scopes: tuple[str, ...]
    token: Token


class UserFederation:
    """The 3-legged flow. ``redirect_uri`` is the app's callback (registered at the provider);
    ``authorization_endpoint`` defaults to the provider's discovered metadata; ``refresh_tokens``
    defaults to the broker's shared vault store (if it keeps refresh tokens), else memory."""

    name = "user_federation"
    needs_user = True

    def __init__(
        self,
        redirect_uri: str,
        *,
        authorization_endpoint: str | None = None,
        extra_parameters: Mapping[str, str] | None = None,
        refresh_tokens: RefreshTokenStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for url in (redirect_uri, authorization_endpoint):
            if url is not None and (problem := check_url(url)) is not None:
                raise ConfigurationError(f"user federation: {url!r} {problem}")
        self.redirect_uri = redirect_uri
        self.authorization_endpoint = authorization_endpoint
        self.extra_parameters = dict(extra_parameters or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._chosen = refresh_tokens is not None
        self.refresh_tokens: RefreshTokenStore = refresh_tokens if refresh_tokens is not None else MemoryRefreshTokens()

    def share_refresh_tokens(self, store: object) -> None:
        """Keep refresh tokens in ``store`` (the broker's vault store) unless one was given."""
        if not self._chosen and isinstance(store, RefreshTokenStore):
            self.refresh_tokens = store

    def __repr__(self) -> str:
        return f"UserFederation(redirect_uri={self.redirect_uri!r})"

    # -- Flow ------------------------------------------------------------------------------------

    def run(self, provider: CredentialProvider, user: UserToken | None, scopes: tuple[str, ...]) -> Steps:
        if user is None:  # pragma: no cover - the broker checks needs_user first
            raise ConfigurationError("user federation needs the user's token")
        # The vault runs this once per (user, provider, scopes) at a time, across processes too
        # (its lease), so a rotating refresh token is never used twice.
        refresh = self.refresh_tokens.load_refresh_token(user.identity, provider.name, scopes)
        if refresh is not None:
            endpoint = yield from provider.endpoint()
            try:
                token = yield from provider.token_request(endpoint, {
                    "grant_type": GRANT_REFRESH_TOKEN, "refresh_token": refresh, "scope": " ".join(scopes),
                }, step="refresh")
            except TokenRequestFailed as exc:
                if exc.error != "invalid_grant":
                    raise  # not refused (the server is down, say): keep it for the next attempt
                self.refresh_tokens.delete_refresh_token(user.identity, provider.name, scopes)
            else:
                # RFC 6749 §6: the server may rotate it; saving also restarts the store's TTL.
                self.refresh_tokens.save_refresh_token(user.identity, provider.name, scopes,
                                                       token.refresh_token or refresh)
                return token
        url, state = yield from self._authorization_url(provider, user, scopes)
        raise AuthorizationRequired(provider.name, self.name, url, state)

    def complete(self, provider: CredentialProvider, code: str, state: str) -> Steps:
        """Exchange the callback's ``code`` (RFC 6749 §4.1.3 with the PKCE verifier); returns
        :class:`Completed`. An unknown, used or expired ``state`` is refused."""
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or self._clock() - pending.created > PENDING_LIFETIME:
            raise provider.failed(self.redirect_uri, None, "invalid_state",
                                  "unknown, used or expired state: start again", step="callback")
        endpoint = yield from provider.endpoint()
        token = yield from provider.token_request(endpoint, {
            "grant_type": GRANT_AUTHORIZATION_CODE, "code": code, "redirect_uri": self.redirect_uri,
            "code_verifier": pending.verifier,
        }, step="authorization code")
        if token.refresh_token:
            self.refresh_tokens.save_refresh_token(pending.identity, provider.name, pending.scopes, token.refresh_token)
        return Completed(pending.identity, pending.scopes, token)

    # -- helpers ---------------------------------------------------------------------------------

    def _authorization_url(self, provider: CredentialProvider, user: UserToken, scopes: tuple[str, ...]) -> Steps:
        endpoint = self.authorization_endpoint
        if endpoint is None:
            if provider.issuer is None:
                raise ConfigurationError(f"provider {provider.name!r}: give authorization_endpoint or issuer")
            found = (yield from provider.metadata(provider.issuer)).get("authorization_endpoint")
            if not isinstance(found, str) or check_url(found) is not None:
                raise provider.failed(provider.issuer, 200, "invalid_metadata", "no usable authorization_endpoint",
                                      step="discovery")
            endpoint = found
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            for old in [s for s, p in self._pending.items() if now - p.created > PENDING_LIFETIME]:
                del self._pending[old]
            self._pending[state] = _Pending(user.identity, scopes, verifier, now)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        params = {
            "response_type": "code", "client_id": provider.client.client_id, "redirect_uri": self.redirect_uri,
            "scope": " ".join(scopes), "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
            **({"resource": provider.resource} if provider.resource else {}),
            **self.extra_parameters,
        }
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}", state
