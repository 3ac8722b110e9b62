"""The read and update rules, one decision at a time."""

from __future__ import annotations

from dataclasses import replace

from deputy.demo.desk.acl import may_update, read_denial
from deputy.demo.desk.records import DeskUser, Incident

IT = DeskUser("jane", "Jane Doe", "jane@example.com", frozenset({"it"}))
HR = DeskUser("bob", "Bob Smith", "bob@example.com", frozenset({"hr"}))
SOC = DeskUser("carol", "Carol Nguyen", "carol@example.com", frozenset({"security"}))
NOBODY = DeskUser("frank", "Frank Miller", "frank@example.com")

INCIDENT = Incident(
    sys_id="0" * 32, number="INC0000001", short_description="s", description="d", category="network",
    priority="3", state="1", assigned_to="jane", assignment_group="it", caller_id="frank",
    opened_at="2026-11-20 10:00:00", sys_updated_on="2026-11-20 10:00:00",
)
HR_CASE = replace(INCIDENT, category="hr", assignment_group="hr")
SOC_ALERT = replace(INCIDENT, category="security", assignment_group="security")


def test_ordinary_records_are_for_every_desk_user() -> None:
    for user in (IT, HR, SOC, NOBODY):
        assert read_denial(user, INCIDENT) is None
        assert read_denial(user, INCIDENT, frozenset()) is None


def test_hr_records_need_the_group_and_the_scope() -> None:
    assert read_denial(HR, HR_CASE, {"incidents:read", "hr:read"}) is None
    assert read_denial(HR, HR_CASE) is None  # judged by the group alone
    assert read_denial(HR, HR_CASE, {"incidents:read"}) == "hr record; the token lacks hr:read"
    # the scope alone is not enough: jane's agent holding hr:read still does not show her HR cases
    assert read_denial(IT, HR_CASE, {"incidents:read", "hr:read"}) == "hr record; jane is not in group hr"


def test_security_records_need_the_security_group() -> None:
    assert read_denial(SOC, SOC_ALERT, {"incidents:read"}) is None
    assert read_denial(HR, SOC_ALERT, {"incidents:read", "hr:read"}) == "security record; bob is not in group security"
    assert read_denial(IT, SOC_ALERT) is not None


def test_the_assignee_gets_no_exception() -> None:
    assert HR_CASE.assigned_to == "jane" and read_denial(IT, HR_CASE) is not None


def test_updates_by_the_assignee_or_the_assignment_group() -> None:
    assert may_update(IT, INCIDENT)  # assignee
    colleague = DeskUser("dave", "Dave", "dave@example.com", frozenset({"it"}))
    assert may_update(colleague, INCIDENT)  # in the assignment group
    assert not may_update(HR, INCIDENT)
    assert not may_update(NOBODY, INCIDENT)
