"""``TokenBroker``: the providers, the vault, and the two drivers that run a provider's flow.

``get_token`` (blocking, on an ``httpx.Client``) and ``aget_token`` (asyncio, on an
``httpx.AsyncClient``) run the same sans-I/O flow generator; the vault makes sure N concurrent
callers for the same (user, provider, target, scopes) cause one exchange.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from deputy.agent.context import current_user_token
from deputy.agent.errors import ConfigurationError, NoUserToken
from deputy.agent.provider import MAX_BODY, NO_ANSWER, CredentialProvider, Steps
from deputy.agent.token import Token, UserToken
from deputy.agent.user_federation import Completed, UserFederation
from deputy.agent.vault import TokenVault, VaultKey
from deputy.resource.fetch import check_url

__all__ = ["TokenBroker"]

log = logging.getLogger("deputy.agent")


class TokenBroker:
    """Gets downstream tokens for the current user from configured providers.

    ``http_client``/``async_http_client`` reuse connections (redirects are never followed, so a
    token request goes only where it was configured to). Thread-safe; one per process.
    """

    def __init__(
        self,
        providers: Iterable[CredentialProvider] | Mapping[str, CredentialProvider] = (),
        *,
        vault: TokenVault | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.providers: dict[str, CredentialProvider] = {}
        self.vault = vault if vault is not None else TokenVault()  # an empty vault is falsy
        for provider in providers.values() if isinstance(providers, Mapping) else providers:
            self.add(provider)
        self._client = http_client
        self._aclient = async_http_client

    def __repr__(self) -> str:
        return f"TokenBroker(providers={sorted(self.providers)}, vault={self.vault!r})"

    def add(self, provider: CredentialProvider) -> None:
        if provider.name in self.providers:
            raise ConfigurationError(f"provider {provider.name!r} is configured twice")
        if isinstance(provider.flow, UserFederation) and self.vault.store is not None:
            provider.flow.share_refresh_tokens(self.vault.store)  # other processes can refresh too
        self.providers[provider.name] = provider

    def provider(self, name: str) -> CredentialProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigurationError(f"no credential provider named {name!r}; have {sorted(self.providers)}") from None

    def key(
        self, provider: str, scopes: Iterable[str] | None = None, user: str | UserToken | None = None
    ) -> tuple[CredentialProvider, UserToken | None, tuple[str, ...], VaultKey]:
        """Resolve a call: the provider, the user token (given, or the current request's), the
        scopes (given, or the provider's defaults) and the vault key."""
        chosen = self.provider(provider)
        wanted = tuple(sorted(set(chosen.scopes if scopes is None else scopes)))
        subject: UserToken | None = None
        if chosen.flow.needs_user:
            subject = UserToken(user) if isinstance(user, str) else (user or current_user_token())
            if subject is None:
                raise NoUserToken(chosen.name, chosen.flow.name)
        identity = subject.identity if subject is not None else ("agent", "")
        key = VaultKey(identity, chosen.name, chosen.audience, chosen.resource, frozenset(wanted))
        return chosen, subject, wanted, key

    # -- the two drivers ---------------------------------------------------------------------

    def get_token(
        self, provider: str, scopes: Iterable[str] | None = None, *, user_token: str | UserToken | None = None
    ) -> Token:
        """A token for ``provider``: from the vault, or by running its flow (blocking I/O)."""
        chosen, subject, wanted, key = self.key(provider, scopes, user_token)

        def fetch() -> Token:
            token = _capped(chosen, subject, _token(self._run(chosen.flow.run(chosen, subject, wanted))))
            log.info("token from provider %s (%s) for %s: %s, expires %s",
                     chosen.name, chosen.flow.name, _who(key), token.fingerprint, token.expires_at)
            return token

        return self.vault.get(key, fetch)

    async def aget_token(
        self, provider: str, scopes: Iterable[str] | None = None, *, user_token: str | UserToken | None = None
    ) -> Token:
        """:meth:`get_token` with non-blocking I/O."""
        chosen, subject, wanted, key = self.key(provider, scopes, user_token)

        async def fetch() -> Token:
            token = _capped(chosen, subject, _token(await self._arun(chosen.flow.run(chosen, subject, wanted))))
            log.info("token from provider %s (%s) for %s: %s, expires %s",
                     chosen.name, chosen.flow.name, _who(key), token.fingerprint, token.expires_at)
            return token

        return await self.vault.aget(key, fetch)

    def invalidate(self, provider: str, token: Token, scopes: Iterable[str] | None = None,
                   *, user_token: str | UserToken | None = None) -> bool:
        """Forget ``token`` (refused downstream with ``invalid_token``) so the next call exchanges again."""
        return self.vault.invalidate(self.key(provider, scopes, user_token)[3], token)

    def complete_authorization(self, provider: str, *, code: str, state: str) -> Token:
        """User federation: finish the authorization the user approved (the callback's ``code``
        and ``state``); the token goes into the vault for the user who started it."""
        chosen, flow = self._federation(provider)
        return self._completed(chosen, self._run(flow.complete(chosen, code, state)))

    async def acomplete_authorization(self, provider: str, *, code: str, state: str) -> Token:
        """:meth:`complete_authorization` with non-blocking I/O."""
        chosen, flow = self._federation(provider)
        return self._completed(chosen, await self._arun(flow.complete(chosen, code, state)))

    def _federation(self, provider: str) -> tuple[CredentialProvider, UserFederation]:
        chosen = self.provider(provider)
        if not isinstance(chosen.flow, UserFederation):
            raise ConfigurationError(f"provider {provider!r} does not use user federation")
        return chosen, chosen.flow

    def _completed(self, chosen: CredentialProvider, done: Any) -> Token:
        if not isinstance(done, Completed):  # pragma: no cover - complete() returns Completed
            raise TypeError("user federation must complete with Completed")
        key = VaultKey(done.identity, chosen.name, chosen.audience, chosen.resource, frozenset(done.scopes))
        self.vault.put(key, done.token)
        log.info("user federation at provider %s completed for %s: %s", chosen.name, _who(key), done.token.fingerprint)
        return done.token

    def _run(self, steps: Steps) -> Any:
        own = self._client is None
        client = httpx.Client() if self._client is None else self._client
        try:
            request = next(steps)
            while True:
                response = _send(client, request, steps)
                request = steps.send(response)
        except StopIteration as done:
            return done.value
        finally:
            steps.close()
            if own:
                client.close()

    async def _arun(self, steps: Steps) -> Any:
        own = self._aclient is None
        client = httpx.AsyncClient() if self._aclient is None else self._aclient
        try:
            request = next(steps)
            while True:
                response = await _asend(client, request, steps)
                request = steps.send(response)
        except StopIteration as done:
            return done.value
        finally:
            steps.close()
            if own:
                await client.aclose()


def _capped(chosen: CredentialProvider, subject: UserToken | None, token: Token) -> Token:
    """A token derived from the user's token is reused no longer than that token lives (what
    Deputy's server does for delegated tokens): when the user's session ends, so does the
    agent's reuse of what it got for them. User federation is exempt: there the user token only
    says who the user is, and the refresh token is the user's standing consent."""
    if subject is None or isinstance(chosen.flow, UserFederation):
        return token
    return token.capped(subject.expires_at)


def _who(key: VaultKey) -> str:
    return "the agent" if key.user[0] == "agent" else f"{key.user[0]} {key.user[1]}"


def _token(value: Any) -> Token:
    if not isinstance(value, Token):  # pragma: no cover - every flow returns a Token
        raise TypeError("a flow must return a Token")
    return value


def _check(request: httpx.Request, steps: Steps) -> None:
    problem = check_url(str(request.url))
    if problem is not None:
        raise ConfigurationError(f"{request.url} {problem}")


def _failure(request: httpx.Request, exc: httpx.HTTPError) -> httpx.Response:
    """No answer: status 0 (:data:`NO_ANSWER`), which the flow reports as "no answer" with the cause."""
    return httpx.Response(NO_ANSWER, json={"error_description": f"{exc.__class__.__name__}"}, request=request)


def _answer(response: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
    # The body is already decoded: keep only the headers the flows read, never Content-Encoding.
    headers = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "www-authenticate")}
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def _send(client: httpx.Client, request: httpx.Request, steps: Steps) -> httpx.Response:
    _check(request, steps)
    try:
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BODY:
                    break
        finally:
            response.close()
    except httpx.HTTPError as exc:
        return _failure(request, exc)
    return _answer(response, bytes(body), request)


async def _asend(client: httpx.AsyncClient, request: httpx.Request, steps: Steps) -> httpx.Response:
    _check(request, steps)
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BODY:
                    break
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        return _failure(request, exc)
    return _answer(response, bytes(body), request)
