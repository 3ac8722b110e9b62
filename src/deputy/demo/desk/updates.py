"""What a PATCH may say: a JSON object of updatable fields with string values, checked before the
desk looks at any record (pure; the directory check on ``assigned_to`` is the desk's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deputy.demo.desk.errors import BadRequest
from deputy.demo.desk.records import PRIORITIES, STATES, UPDATABLE_FIELDS

__all__ = ["MAX_TEXT", "Update", "read_update"]

MAX_TEXT = 4000  # characters in a work note; 160 in a short description
_LIMITS = {"short_description": 160, "work_notes": MAX_TEXT, "assigned_to": 64}


@dataclass(frozen=True)
class Update:
    """Field changes (``work_notes`` excluded) and the work note to append, if any."""

    changes: Mapping[str, str]
    work_note: str | None = None

    def fields(self) -> tuple[str, ...]:
        """The fields this update touches, in a stable order."""
        names = set(self.changes) | ({"work_notes"} if self.work_note is not None else set())
        return tuple(name for name in UPDATABLE_FIELDS if name in names)


def read_update(body: Any) -> Update:
    """Check a parsed JSON body. Raises :class:`BadRequest` naming the first problem."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object of fields to update.")
    if not body:
        raise BadRequest(f"Nothing to update: give one of {', '.join(UPDATABLE_FIELDS)}.")
    changes: dict[str, str] = {}
    for name, value in body.items():
        if name not in UPDATABLE_FIELDS:
            raise BadRequest(f"Field {name[:40]!r} cannot be updated: give one of {', '.join(UPDATABLE_FIELDS)}.")
        if not isinstance(value, str):
            raise BadRequest(f"Field {name!r} must be a string.")
        if len(value) > _LIMITS.get(name, MAX_TEXT):
            raise BadRequest(f"Field {name!r} is longer than {_LIMITS.get(name, MAX_TEXT)} characters.")
        changes[name] = value
    if "state" in changes and changes["state"] not in STATES:
        raise BadRequest(f"Field 'state' must be one of {', '.join(STATES)}.")
    if "priority" in changes and changes["priority"] not in PRIORITIES:
        raise BadRequest(f"Field 'priority' must be one of {', '.join(PRIORITIES)}.")
    if "short_description" in changes and not changes["short_description"].strip():
        raise BadRequest("Field 'short_description' must not be empty.")
    note = changes.pop("work_notes", None)
    if note is not None and not note.strip():
        raise BadRequest("Field 'work_notes' must not be empty.")
    return Update(changes, note)
