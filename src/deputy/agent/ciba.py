"""Human approval from the agent's side: OpenID CIBA Core 1.0, poll mode (docs/approvals.md).

When a scope needs the user's approval, an exchange will not yield it (the server answers
``invalid_scope`` / ``approval_required``). The agent then asks the user through the backchannel
authentication endpoint and waits for the token::

    ciba = BackchannelApproval("https://deputy.example", ClientSecret("incident-agent", secret))
    token = ciba.get_token(login_hint="jane", scopes=["incidents:write"],
                           resource="https://incidents.example", binding_message="Close INC-42")
    # or, in async code: token = await ciba.get_token_async(...)

The steps are one sans-I/O generator (the model is HTTPX's ``Auth.auth_flow``): it yields
:class:`Call` (an HTTP request, named by its step) and :class:`Wait` (seconds to sleep), and the
sync and async drivers only send and sleep. Polling honours ``interval`` (§7.3) and adds 5
seconds at every ``slow_down`` (§11). Failures name their step: ``discovery``, ``bc-authorize``
or ``poll``; :class:`ApprovalDenied` and :class:`ApprovalExpired` say what the user (or the clock)
decided. No error message holds the ``auth_req_id``, a token or a secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from deputy.agent.client_auth import ClientAuth
from deputy.agent.errors import ConfigurationError, TokenRequestFailed
from deputy.agent.token import Token
from deputy.constants import GRANT_CIBA
from deputy.resource.fetch import check_url

__all__ = ["ApprovalDenied", "ApprovalExpired", "BackchannelApproval", "Call", "PendingApproval", "Wait"]

FLOW = "ciba"
DEFAULT_INTERVAL = 5  # §7.3: "If no value is provided, clients MUST use 5 as the default value."
SLOW_DOWN_STEP = 5  # §11


class ApprovalDenied(TokenRequestFailed):
    """The user denied the request (``access_denied``)."""


class ApprovalExpired(TokenRequestFailed):
    """The request expired before the user decided (``expired_token``, or ``expires_in`` ran out)."""


@dataclass(frozen=True)
class Call:
    """A request to send; ``step`` names it in errors."""

    step: str
    request: httpx.Request


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class PendingApproval:
    """What ``/bc-authorize`` answered. ``auth_req_id`` is a credential: it is kept out of repr."""

    auth_req_id: str = field(repr=False)
    expires_at: float
    interval: int


Steps = Generator[Call | Wait, Any, Any]


class BackchannelApproval:
    """Ask a user to approve, then poll for the delegated token.

    ``issuer``: the Deputy server (its metadata gives both endpoints), or give
    ``backchannel_endpoint`` and ``token_endpoint``. ``sleep`` / ``async_sleep`` and ``clock`` can
    be replaced (tests); ``timeout`` is per HTTP request.
    """

    def __init__(
        self,
        issuer: str | None,
        client: ClientAuth,
        *,
        backchannel_endpoint: str | None = None,
        token_endpoint: str | None = None,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if issuer is None and (backchannel_endpoint is None or token_endpoint is None):
            raise ConfigurationError("give issuer, or both backchannel_endpoint and token_endpoint")
        for label, url in (("issuer", issuer), ("backchannel_endpoint", backchannel_endpoint),
                           ("token_endpoint", token_endpoint)):
            if url is not None and (problem := check_url(url)) is not None:
                raise ConfigurationError(f"{label} {problem}")
        self.issuer = issuer.rstrip("/") if issuer else None
        self.client = client
        self._endpoints = (backchannel_endpoint, token_endpoint) if backchannel_endpoint and token_endpoint else None
        self.timeout = timeout
        self.sleep = sleep
        self.async_sleep = async_sleep
        self.clock = clock

    # -- the steps (sans-I/O) ---------------------------------------------------------------------

    def _failed(
        self, step: str, endpoint: str, status: int | None, error: str | None, description: str | None = None
    ) -> TokenRequestFailed:
        kind = TokenRequestFailed
        if error == "access_denied" and step == "poll":
            kind = ApprovalDenied
        elif error == "expired_token":
            kind = ApprovalExpired
        return kind(self.client.client_id, FLOW, endpoint=endpoint, status=status, error=error,
                    description=description, step=step)

    def _json(self, step: str, url: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self._failed(step, url, response.status_code, None, "the answer is not a JSON object")
        return body

    def endpoints(self) -> Steps:
        """(backchannel endpoint, token endpoint): configured, or from the issuer's metadata."""
        if self._endpoints is not None:
            return self._endpoints
        if self.issuer is None:  # pragma: no cover - __init__ guarantees one of the two
            raise ConfigurationError("give issuer, or both backchannel_endpoint and token_endpoint")
        url = f"{self.issuer}/.well-known/oauth-authorization-server"
        response = yield Call("discovery", httpx.Request("GET", url, headers={"Accept": "application/json"},
                                                         extensions={"timeout": httpx.Timeout(self.timeout).as_dict()}))
        document = self._json("discovery", url, response)
        if response.status_code != 200 or document.get("issuer") != self.issuer:
            raise self._failed("discovery", url, response.status_code, "invalid_metadata", "not this issuer's metadata")
        found = document.get("backchannel_authentication_endpoint"), document.get("token_endpoint")
        if not all(isinstance(u, str) and check_url(u) is None for u in found):
            raise self._failed("discovery", url, 200, "invalid_metadata", "no usable backchannel or token endpoint")
        if "poll" not in (document.get("backchannel_token_delivery_modes_supported") or []):
            raise self._failed("discovery", url, 200, "invalid_metadata", "the server does not offer poll mode")
        self._endpoints = (str(found[0]), str(found[1]))
        return self._endpoints

    def _post(self, step: str, url: str, data: dict[str, str]) -> Steps:
        form = {k: v for k, v in data.items() if v}
        headers = {"Accept": "application/json"}
        self.client.apply(url, form, headers)
        response = yield Call(step, httpx.Request("POST", url, data=form, headers=headers,
                                                  extensions={"timeout": httpx.Timeout(self.timeout).as_dict()}))
        return response

    def request(
        self, *, login_hint: str, scopes: Iterable[str], resource: str | None = None, audience: str | None = None,
        binding_message: str | None = None, requested_expiry: int | None = None,
    ) -> Steps:
        """§7.1: ask; returns the :class:`PendingApproval`."""
        scope_list = list(scopes)
        if not scope_list:
            raise ConfigurationError("ask for at least one scope")
        if (resource is None) == (audience is None):
            raise ConfigurationError("give exactly one of resource and audience")
        backchannel, _ = yield from self.endpoints()
        data = {
            "login_hint": login_hint, "scope": " ".join(scope_list), "resource": resource or "",
            "audience": audience or "", "binding_message": binding_message or "",
            "requested_expiry": str(requested_expiry) if requested_expiry is not None else "",
        }
        response = yield from self._post("bc-authorize", backchannel, data)
        body = self._json("bc-authorize", backchannel, response)
        if response.status_code != 200:
            raise self._failed("bc-authorize", backchannel, response.status_code, _text(body.get("error")),
                               _text(body.get("error_description")))
        auth_req_id, expires_in, interval = body.get("auth_req_id"), body.get("expires_in"), body.get("interval")
        if not isinstance(auth_req_id, str) or not auth_req_id or not isinstance(expires_in, int) or expires_in <= 0:
            raise self._failed("bc-authorize", backchannel, 200, "invalid_response", "no auth_req_id or expires_in")
        wait = interval if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0 else DEFAULT_INTERVAL
        return PendingApproval(auth_req_id, self.clock() + expires_in, wait)

    def poll(self, pending: PendingApproval) -> Steps:
        """§7.3 and §11: wait ``interval`` between polls (5 s more after each ``slow_down``) until
        the token comes, the user denies, or the request expires. Returns the :class:`Token`."""
        _, token_endpoint = yield from self.endpoints()
        interval = pending.interval
        while True:
            if self.clock() >= pending.expires_at:
                raise self._failed("poll", token_endpoint, None, "expired_token", "expires_in ran out while waiting")
            yield Wait(interval)
            data = {"grant_type": GRANT_CIBA, "auth_req_id": pending.auth_req_id}
            response = yield from self._post("poll", token_endpoint, data)
            body = self._json("poll", token_endpoint, response)
            if response.status_code == 200:
                return _token(body, self.clock(), lambda why: self._failed("poll", token_endpoint, 200, "invalid_response", why))
            error = _text(body.get("error"))
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            raise self._failed("poll", token_endpoint, response.status_code, error, _text(body.get("error_description")))

    def flow(self, **request: Any) -> Steps:
        pending = yield from self.request(**request)
        return (yield from self.poll(pending))

    # -- drivers --------------------------------------------------------------------------------

    def _send_failed(self, call: Call, exc: httpx.HTTPError) -> TokenRequestFailed:
        return self._failed(call.step, str(call.request.url), None, None, exc.__class__.__name__)

    def run(self, steps: Steps, http: httpx.Client | None = None) -> Any:
        """Drive ``steps`` with a blocking client (one is made, and closed, if none is given)."""
        own = http is None
        client = http or httpx.Client()
        try:
            step = next(steps)
            while True:
                if isinstance(step, Wait):
                    self.sleep(step.seconds)
                    step = steps.send(None)
                    continue
                try:
                    response = client.send(step.request)
                except httpx.HTTPError as exc:
                    raise self._send_failed(step, exc) from None
                step = steps.send(response)
        except StopIteration as done:
            return done.value
        finally:
            if own:
                client.close()

    async def run_async(self, steps: Steps, http: httpx.AsyncClient | None = None) -> Any:
        own = http is None
        client = http or httpx.AsyncClient()
        try:
            step = next(steps)
            while True:
                if isinstance(step, Wait):
                    await self.async_sleep(step.seconds)
                    step = steps.send(None)
                    continue
                try:
                    response = await client.send(step.request)
                except httpx.HTTPError as exc:
                    raise self._send_failed(step, exc) from None
                step = steps.send(response)
        except StopIteration as done:
            return done.value
        finally:
            if own:
                await client.aclose()

    def get_token(
        self, *, login_hint: str, scopes: Iterable[str], resource: str | None = None, audience: str | None = None,
        binding_message: str | None = None, requested_expiry: int | None = None, http: httpx.Client | None = None,
    ) -> Token:
        """Ask ``login_hint`` to approve and wait for the token (blocking)."""
        token: Token = self.run(self.flow(
            login_hint=login_hint, scopes=scopes, resource=resource, audience=audience,
            binding_message=binding_message, requested_expiry=requested_expiry,
        ), http)
        return token

    async def get_token_async(
        self, *, login_hint: str, scopes: Iterable[str], resource: str | None = None, audience: str | None = None,
        binding_message: str | None = None, requested_expiry: int | None = None, http: httpx.AsyncClient | None = None,
    ) -> Token:
        """The same, for async code: waits with ``asyncio.sleep``, so the event loop keeps running."""
        token: Token = await self.run_async(self.flow(
            login_hint=login_hint, scopes=scopes, resource=resource, audience=audience,
            binding_message=binding_message, requested_expiry=requested_expiry,
        ), http)
        return token


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _token(body: dict[str, Any], now: float, invalid: Callable[[str], TokenRequestFailed]) -> Token:
    value, expires_in = body.get("access_token"), body.get("expires_in")
    if not isinstance(value, str) or not value:
        raise invalid("no access_token")
    token_type = body.get("token_type")
    scope = body.get("scope")
    return Token(
        value=value, token_type=token_type if isinstance(token_type, str) else "Bearer",
        expires_at=int(now) + (expires_in if isinstance(expires_in, int) and expires_in > 0 else 300),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
    )
