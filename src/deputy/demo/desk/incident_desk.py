"""The incident desk itself: its directory, its incidents, reads and updates under the ACLs of
``acl.py``, and its access log. No HTTP here (``app.py`` is the Table API in front of it).

Thread-safe: one lock guards the records, so the desk can serve from a server thread while the
demo reads :meth:`IncidentDesk.access_log` from another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from deputy.clock import Clock, SystemClock
from deputy.demo.desk.access_log import AccessEntry, AccessLog, Withheld
from deputy.demo.desk.acl import may_update, read_denial
from deputy.demo.desk.errors import BadRequest, NoRecord, UpdateRefused
from deputy.demo.desk.query import EncodedQuery, matches, parse_query, sort_records
from deputy.demo.desk.records import FIELDS, DeskUser, Incident, WorkNote
from deputy.demo.desk.updates import Update

__all__ = ["Caller", "IncidentDesk", "Page", "servicenow_time"]

DEFAULT_ORDER = ("number",)


def servicenow_time(seconds: int) -> str:
    """``2026-11-25 09:30:00`` (UTC), the Table API's date-time format."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


@dataclass(frozen=True)
class Caller:
    """Who a request is for: the desk user (the token's ``sub``), the token's scopes (None: judge by
    groups alone) and the agent chain, current actor first (for work notes and the log only)."""

    user: DeskUser
    scopes: frozenset[str] | None = None
    chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    """Visible records (one page of them), how many matched in all, and what the ACLs withheld."""

    records: tuple[Incident, ...]
    total: int
    withheld: tuple[Withheld, ...] = ()


class IncidentDesk:
    """A directory of users and a table of incidents, read and written as a given caller."""

    def __init__(
        self,
        users: Iterable[DeskUser],
        incidents: Iterable[Incident],
        *,
        clock: Clock | None = None,
        log_capacity: int = 10_000,
    ) -> None:
        self._users = {user.name: user for user in users}
        self._incidents = {incident.sys_id: incident for incident in incidents}
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._log = AccessLog(log_capacity)

    # -- the directory -------------------------------------------------------------------------

    def user(self, name: str) -> DeskUser | None:
        """The desk user with this user_name (a token's ``sub``), or None."""
        return self._users.get(name)

    def users(self) -> list[DeskUser]:
        return sorted(self._users.values(), key=lambda user: user.name)

    # -- reads -----------------------------------------------------------------------------------

    def search(self, caller: Caller, query: EncodedQuery, *, limit: int, offset: int = 0) -> Page:
        """Records matching ``query`` that ``caller`` may read, in order, ``offset`` then ``limit``.

        The ACLs filter before paging, so neither the page nor ``total`` depends on hidden
        records; every hidden match is reported in ``withheld``.
        """
        with self._lock:
            found = [i for i in self._incidents.values() if matches(query, i.as_record(), caller.user.name)]
        visible, withheld = self._split(caller, found)
        rows = sort_records(query, (i.as_record() for i in visible), DEFAULT_ORDER)
        by_id = {i.sys_id: i for i in visible}
        ordered = tuple(by_id[row["sys_id"]] for row in rows)
        return Page(ordered[offset : offset + limit], len(ordered), withheld)

    def get(self, caller: Caller, sys_id: str) -> Page:
        """The record with ``sys_id`` if ``caller`` may read it (an empty page otherwise; a hidden
        record is in ``withheld``)."""
        with self._lock:
            incident = self._incidents.get(sys_id)
        if incident is None:
            return Page((), 0)
        visible, withheld = self._split(caller, [incident])
        return Page(tuple(visible), len(visible), withheld)

    def withheld_for(self, user_name: str, sysparm_query: str = "", scopes: Collection[str] | None = None) -> list[Incident]:
        """Records matching ``sysparm_query`` that this user's ACLs hide, ordered as the query says.

        ``scopes`` None judges by the user's groups alone; give the token's scopes to judge as a
        request would. Raises ``LookupError`` for a user the directory does not know and
        ``QueryError`` for a bad query.
        """
        user = self._users.get(user_name)
        if user is None:
            raise LookupError(f"no desk user named {user_name!r}")
        query = parse_query(sysparm_query, FIELDS)
        caller = Caller(user, None if scopes is None else frozenset(scopes))
        with self._lock:
            found = [i for i in self._incidents.values() if matches(query, i.as_record(), user.name)]
        hidden = [i for i in found if read_denial(user, i, caller.scopes) is not None]
        rows = sort_records(query, (i.as_record() for i in hidden), DEFAULT_ORDER)
        by_id = {i.sys_id: i for i in hidden}
        return [by_id[row["sys_id"]] for row in rows]

    def _split(self, caller: Caller, incidents: Iterable[Incident]) -> tuple[list[Incident], tuple[Withheld, ...]]:
        visible: list[Incident] = []
        withheld: list[Withheld] = []
        for incident in incidents:
            reason = read_denial(caller.user, incident, caller.scopes)
            if reason is None:
                visible.append(incident)
            else:
                withheld.append(Withheld(incident.number, incident.category, reason))
        withheld.sort(key=lambda w: w.number)
        return visible, tuple(withheld)

    # -- updates ---------------------------------------------------------------------------------

    def update(self, caller: Caller, sys_id: str, update: Update) -> Incident:
        """Apply ``update`` to a record ``caller`` may read and update.

        Raises :class:`NoRecord` (missing or hidden: the same answer), :class:`UpdateRefused`
        (neither the assignee nor in the assignment group) or :class:`BadRequest` (``assigned_to``
        names no desk user).
        """
        assignee = update.changes.get("assigned_to")
        if assignee is not None and assignee not in self._users:
            raise BadRequest("Field 'assigned_to' must name a user of the desk.")
        with self._lock:
            incident = self._incidents.get(sys_id)
            if incident is None or read_denial(caller.user, incident, caller.scopes) is not None:
                raise NoRecord()
            if not may_update(caller.user, incident):
                raise UpdateRefused()
            now = servicenow_time(self._clock.now())
            note = None
            if update.work_note is not None:
                note = WorkNote(now, caller.user.name, update.work_note, caller.chain)
            changed = incident.updated(dict(update.changes), note, now, caller.user.name)
            self._incidents[sys_id] = changed
            return changed

    # -- the access log --------------------------------------------------------------------------

    def now(self) -> int:
        return self._clock.now()

    def record(self, entry: AccessEntry) -> None:
        """Add an entry to the access log (and write its line to the ``deputy.demo.desk`` logger)."""
        self._log.record(entry)

    def access_log(self) -> list[AccessEntry]:
        """A snapshot of the access log, oldest first."""
        return self._log.snapshot()

    def incidents(self) -> list[Incident]:
        """Every record, unfiltered, by number: for the demo's narration and tests, never for a caller."""
        with self._lock:
            return sorted(self._incidents.values(), key=lambda incident: incident.number)
