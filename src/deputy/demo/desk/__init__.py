"""The incident desk: a small API speaking the part of ServiceNow's Table API that an incident
agent uses, with ServiceNow-style per-record ACLs decided for the calling *user*, protected by
Deputy's resource SDK (``deputy.resource``). It knows Deputy only through the tokens it verifies.

    desk = seed_desk()                         # the seed directory and incidents
    app = create_desk_app(desk, resource)      # Starlette; resource: a ProtectedResource
    desk.access_log()                          # who read what, through which agents, what was withheld
    desk.withheld_for("jane", "assigned_to=me")  # what jane's ACLs hide from that query

See docs/incident-desk.md.
"""

from __future__ import annotations

from deputy.demo.desk.access_log import AccessEntry, Withheld
from deputy.demo.desk.app import create_desk_app
from deputy.demo.desk.incident_desk import Caller, IncidentDesk, Page
from deputy.demo.desk.query import EncodedQuery, QueryError, parse_query
from deputy.demo.desk.records import DeskUser, Incident, WorkNote
from deputy.demo.desk.seed import seed_desk

__all__ = [
    "AccessEntry",
    "Caller",
    "DeskUser",
    "EncodedQuery",
    "Incident",
    "IncidentDesk",
    "Page",
    "QueryError",
    "Withheld",
    "WorkNote",
    "create_desk_app",
    "parse_query",
    "seed_desk",
]
