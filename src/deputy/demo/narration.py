"""How the story looks in a terminal (Rich): incidents, hidden records, claims, the audit trail."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from deputy.demo.agent.brain import Answer
from deputy.demo.agent.brain.planner import state_name
from deputy.demo.desk import AccessEntry, Incident

__all__ = ["Narrator", "jwt_claims"]


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read for display only (the desk and Deputy verified it already)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class Narrator:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.chapter = 0

    def title(self, text: str) -> None:
        self.chapter += 1
        self.console.print()
        self.console.rule(f"[bold cyan]{self.chapter}. {text}", align="left", style="cyan")

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def answer(self, who: str, question: str, answer: Answer) -> None:
        self.say(f'[bold]{who}[/bold] asks the agent over MCP: [italic]"{question}"[/italic]')
        self.say(f"  brain: {answer.brain}")
        for call in answer.calls:
            args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
            self.say(f"  tool call: {call.name}({args})" + (f"  [red]→ {call.error}[/red]" if call.error else ""))
        records = [r for call in answer.calls for r in call.records]
        if records:
            table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
            for column in ("number", "priority", "state", "category", "short description"):
                table.add_column(column)
            for r in records:
                table.add_row(str(r.get("number")), f"P{r.get('priority')}", state_name(r.get("state")),
                              str(r.get("category", "")), str(r.get("short_description", "")))
            self.console.print(table)
        elif answer.text and not any(call.error for call in answer.calls):
            self.say(f"  answer: {answer.text}")

    def logged(self, entry: AccessEntry) -> None:
        """One line of the desk's access log, without the query string."""
        self.say(f"  the desk's access log: [dim]{entry.caller()}: {entry.method} {entry.target()} → "
                 f"{entry.outcome()}[/dim]")

    def hidden(self, who: str, entry: AccessEntry, incidents: Mapping[str, Incident]) -> None:
        self.logged(entry)
        if not entry.withheld:
            self.say(f"  nothing was hidden from {who}.")
            return
        self.say(f"  [bold]hidden from {who}[/bold] ({len(entry.withheld)}, counted from the desk's log; "
                 "they never left the desk):")
        for w in entry.withheld:
            incident = incidents.get(w.number)
            about = incident.short_description if incident else ""
            self.say(f"    [yellow]{w.number}[/yellow]  {w.category:<9} {about}  [dim]({w.reason})[/dim]")

    def claims(self, claims: Mapping[str, Any], names: Sequence[str]) -> None:
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for name in names:
            if name in claims:
                value = claims[name]
                table.add_row(name, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
        self.console.print(table)

    def audit(self, events: Iterable[Mapping[str, Any]]) -> None:
        table = Table(header_style="bold", pad_edge=False, box=None)
        for column in ("#", "event", "user", "client / chain", "audience", "scope or reason"):
            table.add_column(column, no_wrap=column in ("#", "event", "audience"), overflow="fold")
        for e in events:
            ok = e.get("outcome") == "success"
            detail = " ".join(e.get("scope_granted") or ()) if ok else f"[red]{e.get('reason') or ''}[/red]"
            chain = " ← ".join(e.get("actor_chain") or ()) or str(e.get("client_id") or "")
            table.add_row(
                str(e.get("seq", "")), f"[green]{e.get('type')}[/green]" if ok else f"[red]{e.get('type')}[/red]",
                str(e.get("subject") or ""), chain, " ".join(e.get("audience") or ()), detail,
            )
        self.console.print(table)
