"""The desk's records: incidents, and the users of its own directory (ServiceNow's sys_user).

Values are strings, as ServiceNow's Table API returns them. Reference fields (``assigned_to``,
``caller_id``, ``assignment_group``) hold user and group *names* rather than sys_ids: the desk maps
a token's ``sub`` (Deputy's username) straight to a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = [
    "FIELDS",
    "PRIORITIES",
    "STATES",
    "UPDATABLE_FIELDS",
    "DeskUser",
    "Incident",
    "WorkNote",
]

# ServiceNow's incident states (the numbers its Table API returns) and priorities.
STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}
PRIORITIES = {"1": "Critical", "2": "High", "3": "Moderate", "4": "Low", "5": "Planning"}

FIELDS = (
    "sys_id",
    "number",
    "short_description",
    "description",
    "category",
    "priority",
    "state",
    "assigned_to",
    "assignment_group",
    "caller_id",
    "opened_at",
    "sys_updated_on",
    "sys_updated_by",
    "work_notes",
)

# What PATCH may change. work_notes is a journal: a PATCH appends an entry.
UPDATABLE_FIELDS = ("state", "priority", "short_description", "assigned_to", "work_notes")


@dataclass(frozen=True)
class DeskUser:
    """A user of the desk: ``name`` is the user_name, matched against the token's ``sub``."""

    name: str
    display_name: str
    email: str
    groups: frozenset[str] = frozenset()

    def in_group(self, group: str) -> bool:
        return group in self.groups


@dataclass(frozen=True)
class WorkNote:
    """One journal entry; ``via`` is the agent chain that wrote it, current actor first."""

    at: str
    author: str
    text: str
    via: tuple[str, ...] = ()

    def render(self) -> str:
        via = f" (via {' <- '.join(self.via)})" if self.via else ""
        return f"{self.at} - {self.author}{via}\n{self.text}"


@dataclass(frozen=True)
class Incident:
    """One incident. ``category`` drives the read ACLs (``hr``, ``security``, anything else)."""

    sys_id: str
    number: str
    short_description: str
    description: str
    category: str
    priority: str
    state: str
    assigned_to: str
    assignment_group: str
    caller_id: str
    opened_at: str
    sys_updated_on: str
    sys_updated_by: str = "system"
    work_notes: tuple[WorkNote, ...] = field(default=())

    def as_record(self) -> dict[str, str]:
        """Every field as a string, newest work note first (as ServiceNow shows a journal)."""
        record = {name: getattr(self, name) for name in FIELDS if name != "work_notes"}
        record["work_notes"] = "\n\n".join(note.render() for note in reversed(self.work_notes))
        return record

    def updated(self, changes: dict[str, str], note: WorkNote | None, at: str, by: str) -> Incident:
        """A copy with ``changes`` applied, ``note`` appended and the update stamped."""
        notes = self.work_notes + ((note,) if note else ())
        return replace(self, **changes, work_notes=notes, sys_updated_on=at, sys_updated_by=by)
