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
from typing import Any
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
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._metadata: Mapping[str, Any] | None = None
        self._fetched_at: int | None = None
        self._attempted_at: int | None = None
        self._error = ""

    @property
    def metadata(self) -> Mapping[str, Any] | None:
        """The last RFC 8414 document read (for ``introspection_endpoint``)."""
        return self._metadata

    def _usable(self, kid: str | None, now: int) -> KeySet | None:
        fresh = self._fetched_at is not None and now - self._fetched_at < self._max_age
        if self._keys is not None and fresh and (kid is None or kid in self._kids):
            return self._keys
        return None

    def cached(self, kid: str | None, now: int) -> KeySet | None:
        with self._lock:
            return self._usable(kid, now)

    def claim(self, kid: str | None, now: int) -> KeySet | None:
        """Keys to use, or None when the caller must fetch now (the attempt is recorded)."""
        with self._lock:
            keys = self._usable(kid, now)
            if keys is not None:
                return keys
            if self._attempted_at is not None and now - self._attempted_at < self._refresh_interval:
                if self._keys is not None:
                    return self._keys  # rate-limited: an unknown kid stays unknown until later
                wait = self._refresh_interval - (now - self._attempted_at)
                raise TemporarilyUnavailable(f"{self._error or 'keys not yet fetched'} (next attempt in {wait} s)")
            self._attempted_at = now
            return None

    def store(self, fetched: Fetched, now: int) -> KeySet:
        with self._lock:
            self._keys, self._kids = fetched.keys, _kids(fetched.keys)
            if fetched.metadata is not None:
                self._metadata = fetched.metadata
            self._fetched_at, self._error = now, ""
            return fetched.keys

    def failed(self, kid: str | None, error: str) -> KeySet:
        """After a failed fetch: the keys held if they know ``kid``, else TemporarilyUnavailable."""
        with self._lock:
            self._error = error
            if self._keys is not None and (kid is None or kid in self._kids):
                return self._keys
            raise TemporarilyUnavailable(error)
