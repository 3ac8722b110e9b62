"""`deputy demo` end to end: the story's facts in its output, and nothing left running."""

from __future__ import annotations

import io
import re
import socket
import tempfile
import threading
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from deputy.cli.main import app
from deputy.demo.desk import Caller, parse_query, seed_desk
from deputy.demo.desk.records import FIELDS
from deputy.demo.story import DemoOptions, run_demo

QUERY = "assigned_to=me^ORDERBYDESCopened_at"


def expected(user: str, scopes: set[str]) -> tuple[list[str], list[str]]:
    """What the desk's seed says the user sees (5 newest) and what it withholds from them."""
    desk = seed_desk()
    person = desk.user(user)
    assert person is not None
    page = desk.search(Caller(person, frozenset(scopes)), parse_query(QUERY, FIELDS), limit=5)
    return [i.number for i in page.records], [w.number for w in page.withheld]


def section(output: str, title: str) -> str:
    match = re.search(rf"\d+\. {title}.*?(?=\n\d+\. |\Z)", output, re.DOTALL)
    assert match, f"no section {title!r} in:\n{output}"
    return match.group(0)


def demo_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("deputy-demo-")]


def refused(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_deputy_demo_tells_the_story_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    out = result.output

    jane_sees, jane_hidden = expected("jane", {"incidents:read"})
    assert len(jane_sees) == 5 and len(jane_hidden) == 2
    jane = section(out, "Jane signs in")
    assert "authorization code + PKCE" in jane and "aud=incident-agent" in jane
    assert "deterministic planner (not an LLM)" in jane
    assert re.findall(r"^(INC\d+) ", jane, re.MULTILINE) == jane_sees
    assert "hidden from Jane (2, counted from the desk's log" in jane
    assert [n for n in re.findall(r"^\s+(INC\d+)\s", jane, re.MULTILINE) if n not in jane_sees] == jane_hidden
    assert "Employee complaint" in jane and "SOC alert" in jane

    bob_sees, bob_hidden = expected("bob", {"incidents:read", "hr:read"})
    bob = section(out, "Bob signs in")
    assert re.findall(r"^(INC\d+) ", bob, re.MULTILINE) == bob_sees and set(bob_sees) != set(jane_sees)
    assert f"hidden from Bob ({len(bob_hidden)}," in bob and all(n in bob for n in bob_hidden)

    token = section(out, "What reached the desk")
    assert re.search(r"^sub\s+jane\s*$", token, re.MULTILINE) and re.search(r'^act\s+\{"sub": "incident-agent"', token, re.MULTILINE)
    assert re.search(r"^aud\s+https://incidents.example\s*$", token, re.MULTILINE)
    assert re.search(r"^scope\s+incidents:read\s*$", token, re.MULTILINE)  # not hr:read: Jane is in "it"

    nested = section(out, "A second agent")
    assert "jane via triage-agent ← incident-agent: GET incident" in nested
    assert re.search(r'^act\s+\{"sub": "triage-agent".*"act": \{"sub": "incident-agent"', nested, re.MULTILINE)

    suspended = section(out, "The agent is suspended")
    assert "incident-agent → suspended" in suspended
    assert "Deputy refused the token exchange (400 unauthorized_client: The client is not active.)" in suspended
    assert "reason client_not_active" in suspended

    audit = section(out, "Deputy's audit trail")
    assert re.search(r"token\.issued\s+jane\s+incident-agent\s+https://incidents\.example\s+incidents:read", audit)
    assert re.search(r"token\.issued\s+jane\s+triage-agent ← incident-agent\s+https://incidents\.example", audit)
    assert re.search(r"token\.issued\s+bob\s+incident-agent\s+https://incidents\.example\s+hr:read incidents:read", audit)
    assert re.search(r"agent\.suspended", audit)
    assert re.search(r"token\.refused\s+incident-agent\s+client_not_active", audit)
    assert "chain intact" in audit

    urls = re.findall(r"http://127\.0\.0\.1:\d+", out)
    assert len(set(urls)) == 3 and all(refused(url) for url in set(urls))
    assert demo_threads() == []
    assert list(tmp_path.iterdir()) == []  # the temporary store is gone


def test_keep_running_serves_until_told_to_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    console = Console(record=True, width=400, file=io.StringIO())
    seen: dict[str, object] = {}

    def try_requests() -> None:
        """What a person does while the servers run: the printed recipe, by hand."""
        text = console.export_text(clear=False)
        issuer = re.search(r"Deputy\s+(http://127\.0\.0\.1:\d+)", text)
        admin = re.search(r"Authorization: Bearer (dpa_[\w-]+)", text)
        mcp = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", text)
        assert issuer and admin and mcp, text
        token = httpx.post(f"{issuer.group(1)}/admin/users/jane/tokens", json={"client_id": "incident-agent"},
                           headers={"Authorization": f"Bearer {admin.group(1)}"}).json()["access_token"]
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "query_incidents", "arguments": {"query": "assigned_to=me", "limit": 5}}}
        answer = httpx.post(mcp.group(1), json=call, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"})
        seen["status"] = answer.status_code
        seen["body"] = answer.text
        seen["urls"] = set(re.findall(r"http://127\.0\.0\.1:\d+", text))
        seen["threads"] = demo_threads()

    assert run_demo(DemoOptions(keep_running=True, console=console, wait=try_requests)) == 0
    assert seen["status"] == 200, seen["body"]
    assert "INC" in str(seen["body"]) and '"isError":false' in str(seen["body"]).replace(" ", "")
    assert len(seen["threads"]) == 3  # type: ignore[arg-type]
    assert all(refused(url) for url in seen["urls"])  # type: ignore[attr-defined]
    assert demo_threads() == [] and list(tmp_path.iterdir()) == []


def test_a_failing_brain_fails_the_demo_clearly_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    result = CliRunner().invoke(app, ["demo", "--llm-url", closed, "--llm-model", "m"], env={"COLUMNS": "220"})
    assert result.exit_code == 1, result.output
    assert f"brain: LLM m at {closed}" in result.output or f"LLM m at {closed}" in result.output
    assert f"The demo failed: The LLM endpoint {closed} could not be reached (ConnectError)." in result.output
    assert "Traceback" not in result.output
    assert demo_threads() == [] and list(tmp_path.iterdir()) == []


def test_llm_options_come_together() -> None:
    result = CliRunner().invoke(app, ["demo", "--llm-model", "m"])
    assert result.exit_code == 2 and "give both --llm-url and --llm-model" in result.output
