"""The desk's record ACLs, decided for the calling user (the token's ``sub``), never for the agent.

Read rules, by the incident's category:

- ``hr``: only members of the desk's ``hr`` group, **and** only when the token carries ``hr:read``
  (the agent must have been granted it at Deputy): both the person and the delegation must allow
  it, so an HR officer's agent that was never trusted with HR data does not get it either;
- ``security``: only members of the ``security`` group;
- anything else: every user of the desk.

An incident's assignee gets no exception: an HR complaint routed to an IT engineer stays hidden
from her. Updates: only the assignee or a member of the incident's assignment group, and only of
a record the caller may read. RFC 8693 §4.1: the agent chain is never a reason to allow anything.
"""

from __future__ import annotations

from collections.abc import Collection

from deputy.demo.desk.records import DeskUser, Incident

__all__ = ["HR_SCOPE", "RESTRICTED_CATEGORIES", "may_update", "read_denial"]

HR_SCOPE = "hr:read"
# category -> the desk group whose members may read it
RESTRICTED_CATEGORIES = {"hr": "hr", "security": "security"}


def read_denial(user: DeskUser, incident: Incident, scopes: Collection[str] | None = None) -> str | None:
    """Why ``user`` may not read ``incident``, or None when they may.

    ``scopes`` are the token's scopes; None judges by the user's groups alone (what the user
    could see signed in to the desk directly).
    """
    group = RESTRICTED_CATEGORIES.get(incident.category)
    if group is None:
        return None
    if not user.in_group(group):
        return f"{incident.category} record; {user.name} is not in group {group}"
    if incident.category == "hr" and scopes is not None and HR_SCOPE not in scopes:
        return f"hr record; the token lacks {HR_SCOPE}"
    return None


def may_update(user: DeskUser, incident: Incident) -> bool:
    """The assignee or a member of the assignment group (read access is checked separately)."""
    return incident.assigned_to == user.name or user.in_group(incident.assignment_group)
