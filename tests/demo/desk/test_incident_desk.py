"""The desk without HTTP: searches, reads and updates as a caller, and nothing hidden leaks."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deputy.clock import FixedClock
from deputy.demo.desk import Caller, IncidentDesk, seed_desk
from deputy.demo.desk.acl import read_denial
from deputy.demo.desk.errors import BadRequest, NoRecord, UpdateRefused
from deputy.demo.desk.query import EncodedQuery, QueryError, matches, parse_query
from deputy.demo.desk.records import FIELDS, DeskUser, Incident
from deputy.demo.desk.updates import Update

READ = frozenset({"incidents:read"})
HR_READ = frozenset({"incidents:read", "hr:read"})


@pytest.fixture
def desk() -> IncidentDesk:
    return seed_desk(clock=FixedClock(1_795_000_000))


def caller(desk: IncidentDesk, name: str, scopes: frozenset[str] | None = READ, chain: tuple[str, ...] = ()) -> Caller:
    user = desk.user(name)
    assert user is not None
    return Caller(user, scopes, chain)


def q(text: str) -> EncodedQuery:
    return parse_query(text, FIELDS)


def restricted(desk: IncidentDesk, category: str) -> list[Incident]:
    return [i for i in desk.incidents() if i.category == category]


def test_five_incidents_assigned_to_jane_and_two_withheld(desk: IncidentDesk) -> None:
    page = desk.search(caller(desk, "jane"), q("assigned_to=me"), limit=5)
    assert len(page.records) == 5 and page.total == 5
    assert all(i.assigned_to == "jane" and i.category not in ("hr", "security") for i in page.records)
    assert [w.category for w in page.withheld] == ["hr", "security"]
    assert [w.number for w in page.withheld] == [i.number for i in desk.withheld_for("jane", "assigned_to=me")]
    assert page.withheld[0].reason == "hr record; jane is not in group hr"


def test_jane_never_gets_a_restricted_record_whatever_she_asks(desk: IncidentDesk) -> None:
    jane = caller(desk, "jane", HR_READ)  # even with hr:read in the token
    hidden = restricted(desk, "hr") + restricted(desk, "security")
    hidden_ids = {i.sys_id for i in hidden}
    attempts = [
        "",
        "category=hr",
        "category=hr^ORcategory=security",
        "assigned_to=me^ORcategory=hr",
        "category!=network",
        "short_descriptionLIKEcomplaint",
        "short_descriptionLIKEsoc alert",
        *(f"number={i.number}" for i in hidden),
        *(f"numberSTARTSWITH{i.number}^ORnumber!=x" for i in hidden),
        *(f"sys_id={i.sys_id}" for i in hidden),
    ]
    for text in attempts:
        for offset in (0, 1, 5, 10, 19):
            page = desk.search(jane, q(text), limit=1000, offset=offset)
            assert not hidden_ids & {i.sys_id for i in page.records}, text
            assert page.total == len([i for i in desk.search(jane, q(text), limit=1000).records]), text
    for incident in hidden:
        found = desk.get(jane, incident.sys_id)
        assert found.records == () and found.total == 0
        assert [w.number for w in found.withheld] == [incident.number]


def test_paging_counts_only_visible_records(desk: IncidentDesk) -> None:
    jane = caller(desk, "jane")
    everything = desk.search(jane, q(""), limit=1000)
    visible = [i for i in desk.incidents() if i.category not in ("hr", "security")]
    assert [i.number for i in everything.records] == [i.number for i in visible]
    pages = [desk.search(jane, q(""), limit=3, offset=n).records for n in range(0, len(visible) + 3, 3)]
    assert [i.number for page in pages for i in page] == [i.number for i in visible]
    assert desk.search(jane, q(""), limit=3, offset=1000).records == ()


def test_bob_reads_hr_only_with_the_scope(desk: IncidentDesk) -> None:
    hr_cases = {i.number for i in restricted(desk, "hr")}
    with_scope = desk.search(caller(desk, "bob", HR_READ), q("category=hr"), limit=100)
    assert {i.number for i in with_scope.records} == hr_cases and with_scope.withheld == ()
    # the same Bob through an agent that was not granted hr:read
    without = desk.search(caller(desk, "bob", READ), q("category=hr"), limit=100)
    assert without.records == ()
    assert {w.reason for w in without.withheld} == {"hr record; the token lacks hr:read"}


def test_carol_works_the_soc_queue(desk: IncidentDesk) -> None:
    page = desk.search(caller(desk, "carol"), q("category=security^ORDERBYDESCpriority"), limit=100)
    assert {i.number for i in page.records} == {i.number for i in restricted(desk, "security")}
    assert [i.priority for i in page.records] == sorted((i.priority for i in page.records), reverse=True)


def test_order_by_and_default_order(desk: IncidentDesk) -> None:
    jane = caller(desk, "jane")
    by_number = desk.search(jane, q("assigned_to=me"), limit=10).records
    assert [i.number for i in by_number] == sorted(i.number for i in by_number)
    newest = desk.search(jane, q("assigned_to=me^ORDERBYDESCopened_at"), limit=1).records
    assert newest[0].opened_at == max(i.opened_at for i in by_number)


def test_update_by_the_assignee_appends_a_work_note_with_the_chain(desk: IncidentDesk) -> None:
    jane = caller(desk, "jane", chain=("triage-agent", "incident-agent"))
    target = desk.search(jane, q("assigned_to=me"), limit=1).records[0]
    changed = desk.update(jane, target.sys_id, Update({"state": "6"}, "Fixed the tunnel MTU."))
    assert changed.state == "6" and changed.sys_updated_by == "jane"
    assert changed.sys_updated_on == "2026-11-18 11:06:40"
    assert changed.work_notes[-1].via == ("triage-agent", "incident-agent")
    assert "jane (via triage-agent <- incident-agent)\nFixed the tunnel MTU." in changed.as_record()["work_notes"]
    assert desk.get(jane, target.sys_id).records[0].state == "6"


def test_update_by_the_assignment_group(desk: IncidentDesk) -> None:
    dave = caller(desk, "dave")  # in "it", not the assignee
    target = next(i for i in desk.incidents() if i.assigned_to == "jane" and i.assignment_group == "it")
    assert desk.update(dave, target.sys_id, Update({"priority": "1"})).priority == "1"


def test_update_by_anyone_else_is_refused_and_changes_nothing(desk: IncidentDesk) -> None:
    target = next(i for i in desk.incidents() if i.assigned_to == "jane" and i.category == "network")
    for name in ("bob", "frank", "carol"):
        with pytest.raises(UpdateRefused):
            desk.update(caller(desk, name, HR_READ), target.sys_id, Update({"state": "7"}, "closing"))
    assert next(i for i in desk.incidents() if i.sys_id == target.sys_id) == target


def test_updating_a_hidden_record_looks_like_a_missing_one(desk: IncidentDesk) -> None:
    jane = caller(desk, "jane", HR_READ)
    hr_case = next(i for i in desk.incidents() if i.category == "hr" and i.assigned_to == "jane")
    with pytest.raises(NoRecord) as hidden:
        desk.update(jane, hr_case.sys_id, Update({"state": "7"}))
    with pytest.raises(NoRecord) as missing:
        desk.update(jane, "f" * 32, Update({"state": "7"}))
    assert hidden.value.body() == missing.value.body()
    assert next(i for i in desk.incidents() if i.sys_id == hr_case.sys_id) == hr_case


def test_reassigning_to_a_stranger_is_refused(desk: IncidentDesk) -> None:
    jane = caller(desk, "jane")
    target = desk.search(jane, q("assigned_to=me"), limit=1).records[0]
    with pytest.raises(BadRequest):
        desk.update(jane, target.sys_id, Update({"assigned_to": "mallory"}))
    assert desk.update(jane, target.sys_id, Update({"assigned_to": "dave"})).assigned_to == "dave"


def test_withheld_for_needs_a_known_user_and_a_valid_query(desk: IncidentDesk) -> None:
    with pytest.raises(LookupError):
        desk.withheld_for("mallory", "assigned_to=me")
    with pytest.raises(QueryError):
        desk.withheld_for("jane", "assigned_to>me")
    assert desk.withheld_for("bob", "category=hr", scopes={"incidents:read"}) == restricted(desk, "hr")
    assert desk.withheld_for("bob", "category=hr") == []


def test_concurrent_updates_are_not_lost() -> None:
    user = DeskUser("jane", "Jane", "jane@example.com", frozenset({"it"}))
    incident = seed_desk().incidents()[0]
    desk = IncidentDesk([user], [incident])
    jane = Caller(user, READ)

    def write(n: int) -> None:
        for i in range(20):
            desk.update(jane, incident.sys_id, Update({}, f"note {n}-{i}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(desk.get(jane, incident.sys_id).records[0].work_notes) == 80


# Queries built from the seed's own values, so that they hit hidden records often.
_seed = seed_desk().incidents()
_conditions = st.tuples(
    st.sampled_from(["number", "category", "assigned_to", "assignment_group", "short_description", "priority"]),
    st.sampled_from(["=", "!=", "LIKE", "STARTSWITH"]),
    st.sampled_from(["me", "hr", "security", "jane", "bob", "1", "2", "INC00100", "complaint", "SOC", "",
                     *(i.number for i in _seed)]),
).map(lambda c: "".join(c))
_queries = st.lists(st.lists(_conditions, min_size=1, max_size=3).map("^OR".join), max_size=3).map("^".join)


@settings(max_examples=200, deadline=None)
@given(_queries, st.sampled_from(["jane", "bob", "carol", "frank"]), st.booleans(),
       st.integers(0, 25), st.integers(0, 25))
def test_no_query_returns_a_record_the_acls_hide(text: str, name: str, hr_scope: bool, limit: int, offset: int) -> None:
    desk = seed_desk()
    scopes = HR_READ if hr_scope else READ
    user = desk.user(name)
    assert user is not None
    query = q(text)
    page = desk.search(Caller(user, scopes), query, limit=limit, offset=offset)
    readable = [i for i in desk.incidents() if read_denial(user, i, scopes) is None]
    expected = [i for i in readable if matches(query, i.as_record(), name)]
    hidden = [i for i in desk.incidents() if i not in readable and matches(query, i.as_record(), name)]
    assert page.total == len(expected)
    assert list(page.records) == expected[offset : offset + limit]  # by number: the queries have no ORDERBY
    assert [w.number for w in page.withheld] == [i.number for i in hidden]
