"""The desk's seed: a small company's incident table and directory, built for the story.

Jane (IT) has seven incidents assigned to her. Five are IT work she sees; two were routed to her
but are not hers to read: an employee complaint (HR) and a SOC alert (security). So "show me 5
incidents assigned to me" shows five, and the desk's own log names the two it held back. Bob (HR)
sees his HR cases and not the security incident assigned to him; Carol (security) works the SOC
queue. Users here are the desk's own directory; jane and bob are also users of Deputy's
development realm (``deputy/admin/dev_realm.toml``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from deputy.clock import Clock
from deputy.demo.desk.incident_desk import IncidentDesk
from deputy.demo.desk.records import DeskUser, Incident

__all__ = ["SEED_INCIDENTS", "SEED_USERS", "seed_desk", "sys_id_for"]

SEED_USERS = (
    DeskUser("jane", "Jane Doe", "jane@example.com", frozenset({"it"})),
    DeskUser("bob", "Bob Smith", "bob@example.com", frozenset({"hr"})),
    DeskUser("carol", "Carol Nguyen", "carol@example.com", frozenset({"security"})),
    DeskUser("dave", "Dave Okafor", "dave@example.com", frozenset({"it", "network"})),
    DeskUser("erin", "Erin Walsh", "erin@example.com", frozenset({"hr"})),
    DeskUser("frank", "Frank Miller", "frank@example.com"),  # raises incidents, works none
)


def sys_id_for(number: str) -> str:
    """A stable 32-hex sys_id per number, so links in docs and tests survive a restart."""
    return hashlib.sha256(f"deputy-demo-desk:{number}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Row:
    short_description: str
    description: str
    category: str
    priority: str
    state: str
    assigned_to: str
    assignment_group: str
    caller_id: str
    opened_at: str


_ROWS = (
    _Row("VPN disconnects every 20 minutes from home office",
         "GlobalProtect drops the tunnel roughly every 20 minutes; reconnecting works. Started after "
         "the client update on Monday.", "network", "2", "2", "jane", "it", "frank", "2026-11-16 08:12:40"),
    _Row("Outlook cannot connect after password change",
         "Outlook keeps prompting for credentials since the password rotation; webmail works.",
         "software", "3", "1", "jane", "it", "erin", "2026-11-17 09:03:11"),
    _Row("Employee complaint about manager conduct",
         "Formal complaint about repeated remarks by a team manager in meetings. Submitted through the "
         "IT portal form by mistake; needs HR case handling. Names withheld here.",
         "hr", "2", "1", "jane", "hr", "frank", "2026-11-17 14:25:02"),
    _Row("Laptop battery swelling, trackpad lifting",
         "Dell Latitude 7440, asset LT-0917: the trackpad is raised and the chassis bulges. Swap needed.",
         "hardware", "2", "2", "jane", "it", "dave", "2026-11-18 10:47:55"),
    _Row("Floor 3 printer jams on duplex jobs",
         "HP LaserJet on floor 3 jams on every double-sided job; single-sided prints fine.",
         "hardware", "4", "3", "jane", "it", "bob", "2026-11-18 15:30:19"),
    _Row("Payroll discrepancy for October",
         "Overtime hours from October are missing from the payslip of an employee in logistics.",
         "hr", "3", "2", "bob", "hr", "frank", "2026-11-19 08:55:00"),
    _Row("SOC alert: impossible-travel sign-in on a finance account",
         "Sign-ins to a finance user's account from Lisbon and Singapore 40 minutes apart. Session "
         "tokens revoked; confirm with the user and review mailbox rules.",
         "security", "1", "2", "jane", "security", "carol", "2026-11-19 11:02:37"),
    _Row("SSO login loop on the expense portal",
         "Signing in to the expense portal redirects back to the login page forever in Chrome; Firefox "
         "works. Probably a SameSite cookie issue.", "software", "3", "2", "jane", "it", "jane",
         "2026-11-19 16:44:08"),
    _Row("Harassment complaint intake",
         "New complaint received by the HR hotline; intake interview to be scheduled this week.",
         "hr", "1", "1", "bob", "hr", "erin", "2026-11-20 09:10:45"),
    _Row("Phishing email reported from the HR mailbox",
         "The HR shared mailbox received a credential-phishing email posing as the benefits provider; "
         "two recipients clicked. Check sign-ins and purge the message.",
         "security", "2", "2", "bob", "security", "erin", "2026-11-20 13:37:29"),
    _Row("Shared team calendar not visible to new hires",
         "New HR staff cannot see the team calendar; sharing permissions may not include the new group.",
         "inquiry", "4", "1", "bob", "hr", "erin", "2026-11-21 10:05:16"),
    _Row("Malware detected on LT-0231",
         "EDR quarantined a trojan downloader on LT-0231. Reimage and rotate the user's credentials.",
         "security", "1", "2", "carol", "security", "dave", "2026-11-21 12:18:50"),
    _Row("Core switch firmware upgrade window",
         "Schedule the firmware upgrade of the core switches in building A; needs a 30-minute outage.",
         "network", "3", "3", "dave", "network", "dave", "2026-11-22 08:30:00"),
    _Row("Wi-Fi drops in building B meeting rooms",
         "Clients lose Wi-Fi in meeting rooms B2-B6 when more than 15 people join.",
         "network", "2", "2", "dave", "network", "bob", "2026-11-22 14:12:33"),
    _Row("Onboarding paperwork missing for new starter",
         "Contract and tax forms for a new starter in sales were not received before the start date.",
         "hr", "3", "2", "erin", "hr", "bob", "2026-11-23 09:41:27"),
    _Row("New starter laptop request",
         "Laptop and accounts for a new starter in sales, starting 1 December.",
         "request", "4", "1", "", "it", "bob", "2026-11-23 11:20:04"),
    _Row("Database backup job failing on db-reports-02",
         "Nightly backup fails with 'disk full' on the staging volume since Saturday.",
         "database", "2", "2", "dave", "it", "dave", "2026-11-23 16:58:12"),
    _Row("Suspicious PowerShell on build server",
         "Encoded PowerShell spawned by the CI agent on build-07; likely a compromised dependency. "
         "Isolate and investigate.", "security", "1", "1", "carol", "security", "carol",
         "2026-11-24 07:22:45"),
    _Row("Benefits enrollment portal shows wrong plan year",
         "The enrollment portal offers the 2026 plans instead of 2027; open enrollment starts Monday.",
         "hr", "2", "1", "erin", "hr", "erin", "2026-11-24 10:15:38"),
    _Row("Password reset for a locked account",
         "Account locked after too many attempts from an old phone; reset and check the phone's mail profile.",
         "software", "4", "6", "dave", "it", "frank", "2026-11-24 13:49:01"),
)


def _incident(index: int, row: _Row) -> Incident:
    number = f"INC{10001 + index:07d}"
    return Incident(
        sys_id=sys_id_for(number),
        number=number,
        short_description=row.short_description,
        description=row.description,
        category=row.category,
        priority=row.priority,
        state=row.state,
        assigned_to=row.assigned_to,
        assignment_group=row.assignment_group,
        caller_id=row.caller_id,
        opened_at=row.opened_at,
        sys_updated_on=row.opened_at,
        sys_updated_by=row.caller_id,
    )


SEED_INCIDENTS = tuple(_incident(index, row) for index, row in enumerate(_ROWS))


def seed_desk(*, clock: Clock | None = None) -> IncidentDesk:
    """A fresh desk holding the seed directory and incidents (each call: its own copy)."""
    return IncidentDesk(SEED_USERS, SEED_INCIDENTS, clock=clock)
