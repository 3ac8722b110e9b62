"""``TokenVerifier``: is this request's access token good for this resource, and who is calling?

RFC 9068 §4, all of it, every time: ``typ`` at+jwt (``application/at+jwt`` too), an algorithm
from the allow-list (never ``none``, never HMAC: a published RSA key must not double as an HMAC
secret), the signature by the issuer's key for that ``kid``, ``iss`` exactly the configured
issuer, ``aud`` containing this resource (a token for another API is refused: no token
passthrough), ``exp``/``nbf``/``iat`` with a small leeway, and the required claims ``sub``,
``client_id``, ``jti``, ``exp``, ``iat``. Then the DPoP binding (RFC 9449) when the token has
``cnf.jkt``, introspection (RFC 7662) when the call asks for it, and the scopes.

``verify`` and ``averify`` share every decision; the only I/O (fetching keys, introspecting) runs
on an ``httpx.Client`` or an ``httpx.AsyncClient`` through two thin drivers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlsplit

import httpx

from deputy.clock import Clock, SystemClock
from deputy.constants import TYP_ACCESS_TOKEN
from deputy.jose import CompactJWS, JWTInvalid, KeySet, parse_jws, verify_jwt
from deputy.resource.credentials import Credentials
from deputy.resource.dpop import DPoPSettings, verify_proof
from deputy.resource.errors import (
    BEARER,
    DPOP,
    AuthenticationRequired,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    TemporarilyUnavailable,
)
from deputy.resource.fetch import FetchError, asend, check_url, get_request, send
from deputy.resource.introspection import Introspection, IntrospectionResult, read_introspection
from deputy.resource.keys import Fetched, KeyCache, discovery_url_for, read_discovery, read_jwks
from deputy.resource.principal import Principal, read_chain

__all__ = ["ACCESS_TOKEN_ALGORITHMS", "DEFAULT_ALGORITHMS", "REQUIRED_CLAIMS", "TokenVerifier"]

log = logging.getLogger("deputy.resource")

DEFAULT_ALGORITHMS = ("ES256", "RS256")
# What an issuer may sign access tokens with: asymmetric only.
ACCESS_TOKEN_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
REQUIRED_CLAIMS = ("iss", "aud", "sub", "client_id", "jti", "exp", "iat")  # RFC 9068 §2.2
MAX_LEEWAY = 300


class _Checked(NamedTuple):
    """A token that passed every local check."""

    claims: Mapping[str, Any]
    chain: tuple[str, ...]  # the act chain, read and checked
    scheme: str  # DPoP when the token is bound, else as presented: for the refusals that follow
    own: bool  # ``claims`` is the verifier's own parse, held by no one else


def _check_settings(issuer: str, audience: str, algorithms: Sequence[str], leeway: int) -> None:
    parts = urlsplit(issuer)
    if check_url(issuer) is not None or parts.query:
        raise ValueError("issuer must be an https URL (http only on the loopback interface) without query or fragment")
    if not audience:
        raise ValueError("audience (this resource's identifier) is required")
    unsafe = [a for a in algorithms if a not in ACCESS_TOKEN_ALGORITHMS]
    if unsafe or not algorithms:
        raise ValueError(f"algorithms must be asymmetric signature algorithms; refused: {unsafe}")
    if not 0 <= leeway <= MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")


class TokenVerifier:
    """Verifies access tokens for one resource (``audience``) issued by one ``issuer``.

    Keys come from ``jwks_uri`` or, by default, from the issuer's RFC 8414 metadata
    (``discovery_url``, default ``<issuer host>/.well-known/oauth-authorization-server<path>``).
    Bad settings raise ``ValueError`` here, at start-up, never on a request. Thread-safe; one per
    resource per process. Pass ``http_client``/``async_http_client`` to reuse connections (their
    redirects and timeouts are overridden per request).

    Other token profiles (e.g. :class:`deputy.agent.entra.EntraTokenVerifier`) subclass it and set
    :attr:`token_types` and :attr:`required_claims`, and override :meth:`_accept_claims`; the
    signature, algorithm, issuer, audience, lifetime and DPoP checks stay the same.
    """

    #: The accepted ``typ`` header: RFC 9068 §4 ``at+jwt`` (``application/at+jwt`` too); an ID
    #: token (``JWT``) is refused. A tuple accepts any one of its values (see ``verify_jwt``).
    token_types: ClassVar[str | tuple[str, ...]] = TYP_ACCESS_TOKEN
    #: Claims that must be present (RFC 9068 §2.2).
    required_claims: ClassVar[tuple[str, ...]] = REQUIRED_CLAIMS

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_uri: str | None = None,
        discovery_url: str | None = None,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        clock: Clock | None = None,
        refresh_interval: int = 30,
        max_keys_age: int = 3600,
        timeout: float = 5.0,
        introspection: Introspection | None = None,
        dpop: DPoPSettings | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        _check_settings(issuer, audience, algorithms, leeway)
        if jwks_uri is not None and discovery_url is not None:
            raise ValueError("give jwks_uri or discovery_url, not both")
        if jwks_uri is None:
            discovery_url = discovery_url or discovery_url_for(issuer)
        for name, url in (("jwks_uri", jwks_uri), ("discovery_url", discovery_url)):
            if url is not None and (problem := check_url(url)) is not None:
                raise ValueError(f"{name} {problem}")
        if introspection is not None and introspection.endpoint is None and discovery_url is None:
            raise ValueError("introspection needs an endpoint when keys come from a jwks_uri")
        if refresh_interval < 1 or max_keys_age < refresh_interval or timeout <= 0:
            raise ValueError("need refresh_interval >= 1, max_keys_age >= refresh_interval, timeout > 0")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.dpop = dpop or DPoPSettings()
        self.introspection = introspection
        self.jwks_uri = jwks_uri
        self.discovery_url = discovery_url
        self._clock = clock or SystemClock()
        self._timeout = timeout
        self._cache = KeyCache(refresh_interval=refresh_interval, max_age=max_keys_age)
        self._client = http_client
        self._aclient = async_http_client
        self._io_lock = threading.Lock()
        self._alocks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    # -- the two drivers ---------------------------------------------------------------------

    def verify(
        self, credentials: Credentials | str, *, scopes: Iterable[str] = (), introspect: bool = False
    ) -> Principal:
        """Verify with blocking I/O; return the :class:`Principal` or raise a ``ResourceError``.

        A bare string is a Bearer token presented without request context (a DPoP-bound token
        is then refused). ``scopes`` must all be in the token (else ``InsufficientScope``);
        ``introspect`` asks the authorization server whether the token is still active.
        """
        token, scheme, jws, now = self._start(credentials)
        kid = jws.header.get("kid")
        keys = self._cache.cached(kid, now)
        if keys is None:
            keys = self._refresh(kid, now)
        checked = self._check(credentials, scheme, jws, keys, now)
        result = None
        if introspect:
            request = self._introspection_request(token)
            try:
                body = send(self._client, request)
            except FetchError as exc:
                raise self._unavailable(exc) from None
            result = self._read_introspection(body, checked)
        return self._finish(checked, result, scopes)

    async def averify(
        self, credentials: Credentials | str, *, scopes: Iterable[str] = (), introspect: bool = False
    ) -> Principal:
        """:meth:`verify` with non-blocking I/O (for ASGI applications)."""
        token, scheme, jws, now = self._start(credentials)
        kid = jws.header.get("kid")
        keys = self._cache.cached(kid, now)
        if keys is None:
            keys = await self._arefresh(kid, now)
        checked = self._check(credentials, scheme, jws, keys, now)
        result = None
        if introspect:
            request = self._introspection_request(token)
            try:
                body = await asend(self._aclient, request)
            except FetchError as exc:
                raise self._unavailable(exc) from None
            result = self._read_introspection(body, checked)
        return self._finish(checked, result, scopes)

    def _refresh(self, kid: str | None, now: int) -> KeySet:
        with self._io_lock:  # one fetch at a time; the others then find the new keys
            keys = self._cache.claim(kid, now)
            if keys is not None:
                return keys
            try:
                metadata = None
                if self.discovery_url is not None:
                    metadata = read_discovery(
                        send(self._client, get_request(self.discovery_url, timeout=self._timeout)),
                        issuer=self.issuer, url=self.discovery_url,
                    )
                uri = self._jwks_uri(metadata)
                fetched = Fetched(read_jwks(send(self._client, get_request(uri, timeout=self._timeout)), url=uri), metadata)
            except FetchError as exc:
                return self._fetch_failed(kid, exc)
            return self._fetched(fetched, now)

    async def _arefresh(self, kid: str | None, now: int) -> KeySet:
        async with self._alock():
            keys = self._cache.claim(kid, now)
            if keys is not None:
                return keys
            try:
                metadata = None
                if self.discovery_url is not None:
                    metadata = read_discovery(
                        await asend(self._aclient, get_request(self.discovery_url, timeout=self._timeout)),
                        issuer=self.issuer, url=self.discovery_url,
                    )
                uri = self._jwks_uri(metadata)
                document = await asend(self._aclient, get_request(uri, timeout=self._timeout))
                fetched = Fetched(read_jwks(document, url=uri), metadata)
            except FetchError as exc:
                return self._fetch_failed(kid, exc)
            return self._fetched(fetched, now)

    def _alock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._alocks.get(loop)
        if lock is None:
            for stale in [lp for lp in self._alocks if lp.is_closed()]:
                del self._alocks[stale]
            lock = self._alocks[loop] = asyncio.Lock()
        return lock

    # -- decisions, shared by both drivers ------------------------------------------------------

    def _start(self, credentials: Credentials | str) -> tuple[str, str, CompactJWS, int]:
        """The token, its scheme, its parse and the time. A bare string is a Bearer token (no
        :class:`Credentials` record is built for it: this runs on every request)."""
        if isinstance(credentials, str):
            token, scheme = credentials, BEARER
        else:
            token, scheme = credentials.token, credentials.scheme
        if scheme == DPOP and not self.dpop.enabled:
            raise AuthenticationRequired("DPoP scheme, but DPoP is not accepted here")
        if not token:
            raise AuthenticationRequired("empty token", scheme=scheme)
        try:
            jws = parse_jws(token)  # once, strictly; kid is then a string or absent
        except JWTInvalid as exc:
            raise InvalidToken(str(exc), scheme=scheme) from None
        return token, scheme, jws, self._clock.now()

    def _jwks_uri(self, metadata: Mapping[str, Any] | None) -> str:
        uri = self.jwks_uri if metadata is None else metadata["jwks_uri"]
        if not isinstance(uri, str):  # construction guarantees one of the two
            raise FetchError("no jwks_uri")
        return uri

    def _fetched(self, fetched: Fetched, now: int) -> KeySet:
        kids = sorted(str(k.kid) for k in fetched.keys)
        log.info("keys of %s fetched: %s", self.issuer, kids)
        return self._cache.store(fetched, now)

    def _fetch_failed(self, kid: str | None, exc: FetchError) -> KeySet:
        log.warning("keys of %s: %s", self.issuer, exc)
        return self._cache.failed(kid, str(exc))

    def _unavailable(self, exc: FetchError) -> TemporarilyUnavailable:
        log.warning("introspection at %s: %s", self.issuer, exc)
        return TemporarilyUnavailable(f"introspection: {exc}")

    def _check(
        self, credentials: Credentials | str, scheme: str, jws: CompactJWS, keys: KeySet, now: int
    ) -> _Checked:
        try:
            verified = verify_jwt(
                jws,
                keys,
                algorithms=self.algorithms,
                now=now,
                typ=self.token_types,
                issuer=self.issuer,
                audience=(self.audience,),
                required=self.required_claims,
                leeway=self.leeway,
            )
            claims = self._accept_claims(verified.claims)
        except (JWTInvalid, ValueError) as exc:
            raise InvalidToken(str(exc), scheme=scheme) from None
        try:
            chain = read_chain(claims)  # whatever the profile: the Principal reads act
        except ValueError as exc:
            raise InvalidToken(f"act: {exc}", scheme=scheme) from None
        self._check_binding(credentials, scheme, claims, now)
        return _Checked(claims, chain, DPOP if claims.get("cnf") is not None else scheme, claims is jws.claims)

    def _accept_claims(self, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        """The claims a :class:`Principal` is built from, given claims whose signature, type,
        issuer, audience, lifetime and presence (:attr:`required_claims`) are verified; raise
        ``ValueError`` (its message is log-only detail) to refuse the token.

        The extension point for other token profiles: an override checks its own claims and
        maps them to ``sub``, ``client_id``, ``scope``, ``jti`` (and ``act``, ``cnf``). The ``act``
        chain and the DPoP binding are checked after it, for every profile.
        """
        for name in ("sub", "client_id", "jti"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise ValueError(f"claim {name!r} is not a non-empty string")
        if "scope" in claims and not isinstance(claims["scope"], str):
            raise ValueError("claim 'scope' is not a space-separated string")
        return claims

    def _check_binding(
        self, credentials: Credentials | str, scheme: str, claims: Mapping[str, Any], now: int
    ) -> None:
        """RFC 9449 §7: a bound token needs the DPoP scheme and a valid proof; the DPoP scheme
        needs a bound token."""
        cnf = claims.get("cnf")
        if cnf is None:
            if scheme == DPOP:
                raise InvalidToken("DPoP scheme with a token that is not DPoP-bound", scheme=DPOP)
            if self.dpop.required:
                raise InvalidToken("token is not DPoP-bound, and DPoP is required", scheme=DPOP)
            return
        jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
        if not isinstance(jkt, str) or not jkt:
            # e.g. an mTLS binding (x5t#S256) this resource cannot check: refuse, never ignore.
            raise InvalidToken("token bound by an unsupported confirmation method", scheme=scheme)
        if not self.dpop.enabled:
            raise InvalidToken("DPoP-bound token, but DPoP is not accepted here", scheme=BEARER)
        if scheme != DPOP or not isinstance(credentials, Credentials):  # a bare string is Bearer
            raise InvalidToken("DPoP-bound token presented with the Bearer scheme", scheme=DPOP)
        if credentials.proof is None:
            raise InvalidDPoPProof("no DPoP proof")
        if credentials.method is None or credentials.url is None:
            raise InvalidDPoPProof("no request method and URL to check the proof against")
        verify_proof(
            credentials.proof, access_token=credentials.token, jkt=jkt, method=credentials.method,
            url=credentials.url, now=now, leeway=self.leeway, settings=self.dpop,
        )

    def _introspection_request(self, token: str) -> httpx.Request:
        if self.introspection is None:
            raise ValueError("introspection is not configured for this verifier")
        endpoint = self.introspection.endpoint
        if endpoint is None:
            metadata = self._cache.metadata or {}
            found = metadata.get("introspection_endpoint")
            if not isinstance(found, str) or check_url(found) is not None:
                raise TemporarilyUnavailable(f"no usable introspection_endpoint in {self.issuer}'s metadata")
            endpoint = found
        return self.introspection.request(endpoint, token, timeout=self._timeout)

    def _read_introspection(self, body: Mapping[str, Any], checked: _Checked) -> IntrospectionResult:
        try:
            return read_introspection(body, checked.claims)
        except InvalidToken as exc:
            exc.scheme = checked.scheme
            raise

    def _finish(self, checked: _Checked, result: IntrospectionResult | None, scopes: Iterable[str]) -> Principal:
        is_impersonated, introspected = result is not None and result.is_impersonated, result is not None
        if checked.own and isinstance(checked.claims, dict):
            principal = Principal._from_own_claims(
                checked.claims, checked.chain, is_impersonated=is_impersonated, introspected=introspected
            )
        else:  # a profile's own mapping (see _accept_claims): copied
            principal = Principal.from_claims(
                checked.claims, is_impersonated=is_impersonated, introspected=introspected
            )
        needed = tuple(scopes)
        if not principal.scopes.issuperset(needed):
            missing = [s for s in needed if s not in principal.scopes]
            raise InsufficientScope(f"missing scope(s) {missing}", scheme=checked.scheme, scopes=needed)
        return principal
