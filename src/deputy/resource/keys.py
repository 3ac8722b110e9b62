"""The issuer's signing keys, without I/O: where they come from and when to fetch them again.

Source: a JWKS URL, or the issuer's RFC 8414 metadata (``/.well-known/oauth-authorization-server``,
§3.1) whose ``issuer`` must equal the configured issuer exactly (§3.3): a document that names
another issuer is refused, whatever keys it points to.

Refresh: when a token names a ``kid`` the cache does not hold (the issuer rotated its keys) and
when the keys are older than ``max_age`` (a removed key must stop verifying). At most one attempt
per ``refresh_interval``, so tokens with made-up ``kid`` values cannot turn the resource into a
flood of requests at the authorization server. When a refresh fails, the keys already held keep
working for the ``kid`` values they have.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from deputy.jose import KeySet, import_public_jwks
from deputy.resource.errors import TemporarilyUnavailable
from deputy.resource.fetch import FetchError, check_url

__all__ = ["Fetched", "KeyCache", "discovery_url_for", "read_discovery", "read_jwks"]

DISCOVERY_SUFFIX = "/.well-known/oauth-authorization-server"


def discovery_url_for(issuer: str) -> str:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, DISCOVERY_SUFFIX + path, "", ""))


def read_discovery(document: Mapping[str, Any], *, issuer: str, url: str) -> Mapping[str, Any]:
    """The metadata document, checked: its ``issuer`` is ours, its ``jwks_uri`` usable."""
    if document.get("issuer") != issuer:
        raise FetchError(
            f"metadata at {url} names issuer {document.get('issuer')!r}, not {issuer!r} (RFC 8414 section 3.3)"
        )
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError(f"metadata at {url} has no jwks_uri")
    problem = check_url(jwks_uri)
    if problem is not None:
        raise FetchError(f"jwks_uri {jwks_uri!r} {problem}")
    return document


def read_jwks(document: Mapping[str, Any], *, url: str) -> KeySet:
    try:
        keys = import_public_jwks(document)
    except ValueError as exc:
        raise FetchError(f"{url}: {exc}") from None
    if not keys.keys:
        raise FetchError(f"{url}: no usable signature keys")
    return keys


class _Held(NamedTuple):
    """The keys held and when they were fetched: replaced whole, never changed, so that a request
    reads them without taking the lock."""

    keys: KeySet
    kids: frozenset[str]
    fetched_at: int


@dataclass(frozen=True)
class Fetched:
    keys: KeySet
    metadata: Mapping[str, Any] | None = None  # the RFC 8414 document, when keys came through it


def _kids(keys: KeySet) -> frozenset[str]:
    return frozenset(k.kid for k in keys if k.kid is not None)


class KeyCache:
    """The keys held, and the decision to fetch. Thread-safe; the caller does the fetching:

    1. :meth:`cached` — keys that can be used right now, or None;
    2. :meth:`claim` — (under the caller's I/O lock) keys to use, or None: "fetch now";
    3. :meth:`store` after a successful fetch, :meth:`failed` after a failed one.
    """

    def __init__(self, *, refresh_interval: int, max_age: int) -> None:
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._lock = threading.Lock()
        self._held: _Held | None = None
        self._metadata: Mapping[str, Any] | None = None
        self._attempted_at: int | None = None
        self._error = ""

    @property
    def metadata(self) -> Mapping[str, Any] | None:
        """The last RFC 8414 document read (for ``introspection_endpoint``)."""
        return self._metadata

    def _usable(self, kid: str | None, now: int) -> KeySet | None:
        held = self._held  # one read: a consistent snapshot
        if held is not None and now - held.fetched_at < self._max_age and (kid is None or kid in held.kids):
            return held.keys
        return None

    def cached(self, kid: str | None, now: int) -> KeySet | None:
        return self._usable(kid, now)  # lock-free: the snapshot is replaced whole under the lock

    def claim(self, kid: str | None, now: int) -> KeySet | None:
        """Keys to use, or None when the caller must fetch now (the attempt is recorded)."""
        with self._lock:
            keys = self._usable(kid, now)
            if keys is not None:
                return keys
            if self._attempted_at is not None and now - self._attempted_at < self._refresh_interval:
                if self._held is not None:
                    return self._held.keys  # rate-limited: an unknown kid stays unknown until later
                wait = self._refresh_interval - (now - self._attempted_at)
                raise TemporarilyUnavailable(f"{self._error or 'keys not yet fetched'} (next attempt in {wait} s)")
            self._attempted_at = now
            return None

    def store(self, fetched: Fetched, now: int) -> KeySet:
        with self._lock:
            self._held = _Held(fetched.keys, _kids(fetched.keys), now)
            if fetched.metadata is not None:
                self._metadata = fetched.metadata
            self._error = ""
            return fetched.keys

    def failed(self, kid: str | None, error: str) -> KeySet:
        """After a failed fetch: the keys held if they know ``kid``, else TemporarilyUnavailable."""
        with self._lock:
            self._error = error
            held = self._held
            if held is not None and (kid is None or kid in held.kids):
                return held.keys
            raise TemporarilyUnavailable(error)
