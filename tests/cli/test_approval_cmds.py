"""`deputy approvals list|approve|deny` and `deputy resources require-approval`."""

from __future__ import annotations

from pathlib import Path

import pytest

from deputy.config import Settings
from deputy.protocol.backchannel_ports import BackchannelStatus
from deputy.runtime import Deputy
from tests.cli.conftest import fails, ok
from tests.conftest import INCIDENTS
from tests.protocol.ciba_support import bc_authorize


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    from deputy.cli.common import console

    monkeypatch.setattr(console, "width", 300)


def _request(binding_message: str = "Close INC-42") -> str:
    deputy = Deputy.open(Settings.from_env())
    try:
        response = bc_authorize(deputy, binding_message=binding_message)
        return deputy.approvals.pending("jane")[-1].request_id if response.status == 200 else ""
    finally:
        deputy.close()


def _status(request_id: str) -> BackchannelStatus:
    deputy = Deputy.open(Settings.from_env())
    try:
        request = deputy.store.backchannel.get_request(request_id)
        assert request is not None
        return request.status
    finally:
        deputy.close()


def test_marking_scopes_for_approval(home: Path) -> None:
    out = ok("resources", "require-approval", INCIDENTS, "--scope", "incidents:write")
    assert "incidents:write needs the user's approval" in out
    assert "incidents:write" in ok("resources", "list")
    assert "not among the resource" in fails("resources", "require-approval", INCIDENTS, "--scope", "nope")
    assert "No resource" in fails("resources", "require-approval", "https://nowhere.example", "--scope", "x")
    ok("resources", "add", "https://hr.example", "--scope", "hr:read", "--scope", "hr:write", "--approval", "hr:write")
    assert "no scope needs" in ok("resources", "require-approval", INCIDENTS)


def test_list_approve_and_deny(home: Path) -> None:
    assert "no pending requests" in ok("approvals", "list")
    first = _request("Close INC-42")
    listed = ok("approvals", "list", "--user", "jane")
    assert first in listed and "Close INC-42" in listed and "incident-agent" in listed
    assert "No such pending request" in fails("approvals", "approve", first, "--user", "bob")
    assert "approved" in ok("approvals", "approve", first, "--user", "jane")
    assert _status(first) is BackchannelStatus.APPROVED
    assert "No such pending request" in fails("approvals", "deny", first, "--user", "jane")
    second = _request("Reopen INC-7")
    assert '"request_id"' in ok("approvals", "list", "--json")
    assert "denied" in ok("approvals", "deny", second, "--user", "jane")
    assert _status(second) is BackchannelStatus.DENIED
    assert "no pending requests" in ok("approvals", "list")
