"""Access-log entries: the one-line text, the logger, the bound, thread safety."""

from __future__ import annotations

import logging
import threading

import pytest

from deputy.demo.desk.access_log import AccessEntry, AccessLog, Withheld

LIST = AccessEntry(
    time=1_795_000_000, user="jane", chain=("incident-agent",), method="GET", path="/api/now/table/incident",
    query="sysparm_query=assigned_to=me&sysparm_limit=5", status=200,
    returned=("INC0010001", "INC0010002", "INC0010004", "INC0010005", "INC0010008"),
    withheld=(Withheld("INC0010003", "hr", "hr record; jane is not in group hr"),
              Withheld("INC0010007", "security", "security record; jane is not in group security")),
)


def test_a_search_line() -> None:
    assert LIST.line() == (
        "jane via incident-agent: GET incident sysparm_query=assigned_to=me&sysparm_limit=5"
        " → 5 returned, 2 withheld (INC0010003 hr, INC0010007 security)"
    )


def test_a_chain_is_current_actor_first() -> None:
    entry = AccessEntry(1, "jane", ("triage-agent", "incident-agent"), "GET", "/api/now/table/incident", "", 200)
    assert entry.line() == "jane via triage-agent ← incident-agent: GET incident → 0 returned"


def test_refusals_updates_and_the_users_own_token() -> None:
    hidden = AccessEntry(1, "jane", ("incident-agent",), "GET", "/api/now/table/incident/abc", "", 404,
                         withheld=(Withheld("INC0010003", "hr", "r"),), error="No Record found")
    assert hidden.line() == "jane via incident-agent: GET incident/abc → 404 No Record found, 1 withheld (INC0010003 hr)"
    update = AccessEntry(1, "jane", (), "PATCH", "/api/now/table/incident/abc", "", 200,
                         returned=("INC0010001",), updated=("state", "work_notes"))
    assert update.line() == "jane: PATCH incident/abc → INC0010001 updated (state, work_notes)"
    anonymous = AccessEntry(1, "", (), "GET", "/api/now/table/incident", "", 401, error="no token")
    assert anonymous.line() == "(unauthenticated): GET incident → 401 no token"


def test_recorded_entries_are_logged_and_kept(caplog: pytest.LogCaptureFixture) -> None:
    log = AccessLog()
    with caplog.at_level(logging.INFO, logger="deputy.demo.desk"):
        log.record(LIST)
    assert caplog.records[-1].name == "deputy.demo.desk"
    assert caplog.records[-1].getMessage() == LIST.line()
    snapshot = log.snapshot()
    assert snapshot == [LIST]
    snapshot.clear()  # a snapshot, not the log itself
    assert log.snapshot() == [LIST]


def test_the_log_is_bounded() -> None:
    log = AccessLog(capacity=3)
    for n in range(5):
        log.record(AccessEntry(n, "jane", (), "GET", "/", "", 200))
    assert [e.time for e in log.snapshot()] == [2, 3, 4]
    with pytest.raises(ValueError):
        AccessLog(capacity=0)


def test_concurrent_records_are_all_kept() -> None:
    log = AccessLog()

    def write() -> None:
        for n in range(200):
            log.record(AccessEntry(n, "jane", (), "GET", "/", "", 200))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.snapshot()) == 800
