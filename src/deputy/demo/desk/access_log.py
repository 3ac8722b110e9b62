"""The desk's own access log: who asked, through which agents, and what the ACLs kept back.

Every request is one :class:`AccessEntry`, kept in memory (bounded) and written as one line to the
logger ``deputy.demo.desk``::

    jane via incident-agent: GET incident sysparm_query=assigned_to=me → 5 returned, 2 withheld (INC0010003 hr, INC0010007 security)

The chain is current actor first, as in ``Principal.chain``: ``jane via triage-agent ←
incident-agent`` is triage-agent calling for jane, on behalf of incident-agent. No token is ever
written, only the names the verified token carried.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["AccessEntry", "AccessLog", "Withheld"]

log = logging.getLogger("deputy.demo.desk")


@dataclass(frozen=True)
class Withheld:
    """A record the caller's request reached but the ACLs kept back."""

    number: str
    category: str
    reason: str


@dataclass(frozen=True)
class AccessEntry:
    """One request. ``user`` is the token's ``sub`` ("" when no valid token came); ``chain`` the
    actors, current first; ``returned`` the numbers sent back; ``updated`` the fields a PATCH
    changed; ``error`` the fixed error message when ``status`` is not 200."""

    time: int
    user: str
    chain: tuple[str, ...]
    method: str
    path: str
    query: str
    status: int
    returned: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    updated: tuple[str, ...] = ()
    error: str = ""

    def caller(self) -> str:
        """``jane via triage-agent ← incident-agent``, ``jane``, or ``(unauthenticated)``."""
        user = self.user or "(unauthenticated)"
        return f"{user} via {' ← '.join(self.chain)}" if self.chain else user

    def target(self) -> str:
        """``incident`` or ``incident/<sys_id>`` (the Table API path after ``/api/now/table/``)."""
        return self.path.removeprefix("/api/now/table/")

    def outcome(self) -> str:
        if self.status != 200:
            text = f"{self.status} {self.error}".rstrip()
        elif self.updated:
            text = f"{', '.join(self.returned)} updated ({', '.join(self.updated)})"
        else:
            text = f"{len(self.returned)} returned"
        if self.withheld:
            hidden = ", ".join(f"{w.number} {w.category}" for w in self.withheld)
            text += f", {len(self.withheld)} withheld ({hidden})"
        return text

    def line(self) -> str:
        """The one-line text written to the log."""
        query = f" {self.query}" if self.query else ""
        return f"{self.caller()}: {self.method} {self.target()}{query} → {self.outcome()}"


class AccessLog:
    """A thread-safe, bounded in-memory log (the oldest entries go first)."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._entries: deque[AccessEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(self, entry: AccessEntry) -> None:
        with self._lock:
            self._entries.append(entry)
        log.info("%s", entry.line())

    def snapshot(self) -> list[AccessEntry]:
        with self._lock:
            return list(self._entries)
