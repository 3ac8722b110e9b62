"""The keys of trusted external issuers: fetched, cached per issuer, refreshed when needed.

Keys come from the issuer's JWKS URL, given directly or read from its discovery document, whose
``issuer`` must equal the configured issuer exactly (RFC 8414 §3.3, OIDC Discovery §4.3): a
document that names another issuer is refused, whatever keys it points to.

Refresh: when a token names a ``kid`` the cache does not hold (the issuer rotated its keys) and
when the cached keys are older than ``max_age`` (a removed key must stop verifying). Refreshes are
rate-limited per issuer (at most one attempt per ``refresh_interval``), so tokens with made-up
``kid`` values cannot turn Deputy into a flood of requests at the IdP. When a refresh fails, keys
already held keep working for the ``kid`` values they have.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import httpx

from deputy.clock import Clock
from deputy.federation.fetch import check_fetch_url, get_json
from deputy.jose import KeySet, import_public_jwks
from deputy.protocol.ports import KeysUnavailable
from deputy.realm import TrustedIssuer

log = logging.getLogger("deputy.federation")


@dataclass(frozen=True)
class _Entry:
    source: tuple[str, str]  # (discovery_url, jwks_uri) as configured when fetched
    keys: KeySet | None
    kids: frozenset[str]
    fetched_at: int | None  # last success
    attempted_at: int  # last attempt, successful or not
    error: str = ""


def _kids(keys: KeySet) -> frozenset[str]:
    return frozenset(k.kid for k in keys if k.kid is not None)


class IssuerKeyCache:
    """Implements :class:`deputy.protocol.ports.ExternalKeys`. Thread-safe; one per process."""

    def __init__(
        self,
        clock: Clock,
        *,
        refresh_interval: int = 30,
        max_age: int = 3600,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._timeout = timeout
        self._transport = transport
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.cache_hits = 0  # keys answered from the cache (a metric)
        self.cache_misses = 0  # fetches attempted

    def _lock(self, issuer: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(issuer, threading.Lock())

    def keys_for(self, issuer: TrustedIssuer, kid: str | None) -> KeySet:
        # One lock per issuer: concurrent requests that need a refresh wait for a single fetch.
        with self._lock(issuer.issuer):
            return self._keys_for(issuer, kid)

    def _keys_for(self, issuer: TrustedIssuer, kid: str | None) -> KeySet:
        now = self._clock.now()
        source = (issuer.discovery_url, issuer.jwks_uri)
        entry = self._entries.get(issuer.issuer)
        if entry is not None and entry.source != source:
            entry = None  # the configuration changed: what was fetched before says nothing now
        held = entry is not None and entry.keys is not None and (kid is None or kid in entry.kids)
        fresh = entry is not None and entry.fetched_at is not None and now - entry.fetched_at < self._max_age
        if entry is not None and entry.keys is not None and held and fresh:
            self.cache_hits += 1
            return entry.keys
        if entry is not None and now - entry.attempted_at < self._refresh_interval:
            if entry.keys is not None:
                self.cache_hits += 1
                return entry.keys  # rate-limited: an unknown kid stays unknown until later
            wait = self._refresh_interval - (now - entry.attempted_at)
            raise KeysUnavailable(f"{entry.error} (next attempt in {wait} s)")
        self.cache_misses += 1
        try:
            keys = self._fetch(issuer)
        except KeysUnavailable as exc:
            log.warning("keys of %s: %s", issuer.issuer, exc)
            kept = entry.keys if entry is not None else None
            fetched_at = entry.fetched_at if entry is not None else None
            kids = entry.kids if entry is not None else frozenset()
            self._entries[issuer.issuer] = _Entry(source, kept, kids, fetched_at, now, str(exc))
            if kept is not None and held:
                return kept
            raise
        self._entries[issuer.issuer] = _Entry(source, keys, _kids(keys), now, now)
        log.info("keys of %s fetched: %s", issuer.issuer, sorted(_kids(keys)))
        return keys

    def _fetch(self, issuer: TrustedIssuer) -> KeySet:
        jwks_uri = issuer.jwks_uri
        if issuer.discovery_url:
            metadata = get_json(issuer.discovery_url, timeout=self._timeout, transport=self._transport)
            if metadata.get("issuer") != issuer.issuer:
                raise KeysUnavailable(
                    f"discovery document at {issuer.discovery_url} names issuer {metadata.get('issuer')!r}, "
                    f"not {issuer.issuer!r} (RFC 8414 section 3.3)"
                )
            discovered = metadata.get("jwks_uri")
            if not isinstance(discovered, str):
                raise KeysUnavailable(f"discovery document at {issuer.discovery_url} has no jwks_uri")
            problem = check_fetch_url(discovered)
            if problem is not None:
                raise KeysUnavailable(f"jwks_uri {discovered!r} {problem}")
            jwks_uri = discovered
        document = get_json(jwks_uri, timeout=self._timeout, transport=self._transport)
        try:
            keys = import_public_jwks(document)
        except ValueError as exc:
            raise KeysUnavailable(f"{jwks_uri}: {exc}") from None
        if not keys.keys:
            raise KeysUnavailable(f"{jwks_uri}: no usable signature keys")
        return keys
