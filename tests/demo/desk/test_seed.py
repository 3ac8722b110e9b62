"""The seed tells the story: jane 5 + 2 hidden, bob's HR cases and one hidden SOC incident."""

from __future__ import annotations

import re

from deputy.demo.desk import Caller, parse_query, seed_desk
from deputy.demo.desk.records import FIELDS
from deputy.demo.desk.seed import SEED_INCIDENTS, SEED_USERS, sys_id_for


def test_records_look_like_servicenow() -> None:
    assert 15 <= len(SEED_INCIDENTS) <= 25
    assert len({i.sys_id for i in SEED_INCIDENTS}) == len(SEED_INCIDENTS)
    assert len({i.number for i in SEED_INCIDENTS}) == len(SEED_INCIDENTS)
    names = {u.name for u in SEED_USERS} | {""}
    for incident in SEED_INCIDENTS:
        assert re.fullmatch(r"[0-9a-f]{32}", incident.sys_id) and incident.sys_id == sys_id_for(incident.number)
        assert re.fullmatch(r"INC\d{7}", incident.number)
        assert incident.assigned_to in names and incident.caller_id in names
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", incident.opened_at)


def test_jane_has_seven_assigned_five_visible_two_hidden() -> None:
    desk = seed_desk()
    assigned = [i for i in desk.incidents() if i.assigned_to == "jane"]
    hidden = desk.withheld_for("jane", "assigned_to=me")
    assert len(assigned) == 7
    assert sorted(i.category for i in hidden) == ["hr", "security"]
    assert "complaint" in next(i for i in hidden if i.category == "hr").short_description.lower()
    assert "SOC alert" in next(i for i in hidden if i.category == "security").short_description
    jane = desk.user("jane")
    assert jane is not None and jane.groups == frozenset({"it"})


def test_bob_sees_hr_but_not_the_security_incident_assigned_to_him() -> None:
    desk = seed_desk()
    mine = [i for i in desk.incidents() if i.assigned_to == "bob"]
    assert any(i.category == "hr" for i in mine)
    hidden = desk.withheld_for("bob", "assigned_to=me", scopes={"incidents:read", "hr:read"})
    assert [i.category for i in hidden] == ["security"]


def test_someone_works_security() -> None:
    desk = seed_desk()
    assert any("security" in u.groups for u in desk.users())
    assert desk.withheld_for("carol", "") == [i for i in desk.incidents() if i.category == "hr"]


def test_each_seed_desk_is_its_own_copy() -> None:
    assert seed_desk() is not seed_desk()


def test_what_each_user_sees_as_docs_incident_desk_md_says() -> None:
    desk = seed_desk()
    everything = parse_query("", FIELDS)

    def sees(name: str, scopes: frozenset[str] | None) -> int:
        user = desk.user(name)
        assert user is not None
        return desk.search(Caller(user, scopes), everything, limit=100).total

    with_hr = frozenset({"incidents:read", "hr:read"})
    without = frozenset({"incidents:read"})
    assert len(desk.incidents()) == 20
    assert [sees(n, with_hr) for n in ("jane", "bob", "carol", "dave", "erin", "frank")] == [11, 16, 15, 11, 16, 11]
    assert sees("bob", without) == 11
    assert sys_id_for("INC0010003") == "6b0718c1f8d3ab26a0e6f7dd2fc04394"
