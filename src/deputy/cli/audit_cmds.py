"""``deputy audit``: show, filter, export and verify the hash-chained audit trail."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from deputy.audit import AuditRecord, verify_chain
from deputy.cli.common import HomeOption, console, err_console, open_deputy
from deputy.storage.audit_store import AuditFilter

audit = typer.Typer(help="The audit trail.", no_args_is_help=True)
Home = HomeOption


def _parse_time(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither epoch seconds nor an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def _filter(user: Optional[str], agent: Optional[str], audience: Optional[str], type_: Optional[str],
            outcome: Optional[str], since: Optional[str], until: Optional[str], limit: Optional[int], newest_first: bool) -> AuditFilter:
    return AuditFilter(subject=user, agent=agent, audience=audience, type=type_, outcome=outcome,
                       since=_parse_time(since), until=_parse_time(until), limit=limit, newest_first=newest_first)


def _flat(record: AuditRecord) -> dict[str, object]:
    return {"seq": record.seq, "id": record.event_id, "time": record.time, "hash": record.hash, **record.event.to_dict()}


UserOpt = typer.Option(None, "--user", help="Only events for this user (subject).")
AgentOpt = typer.Option(None, "--agent", help="Only events where this agent was the client or in the chain.")
AudOpt = typer.Option(None, "--audience", help="Only events for this audience/resource.")
TypeOpt = typer.Option(None, "--type", help="Event type, e.g. token.issued, token.refused.")
OutcomeOpt = typer.Option(None, "--outcome", help="success or failure.")
SinceOpt = typer.Option(None, "--since", help="Epoch seconds or ISO 8601.")
UntilOpt = typer.Option(None, "--until", help="Epoch seconds or ISO 8601.")


@audit.command("show")
def audit_show(
    user: Optional[str] = UserOpt, agent: Optional[str] = AgentOpt, audience: Optional[str] = AudOpt,
    type_: Optional[str] = TypeOpt, outcome: Optional[str] = OutcomeOpt, since: Optional[str] = SinceOpt,
    until: Optional[str] = UntilOpt, limit: int = typer.Option(50, help="At most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    home: Optional[Path] = Home,
) -> None:
    """Show recent events: who, through which chain of agents, for what, and why refused."""
    with open_deputy(home) as deputy:
        rows = list(deputy.store.audit.records(_filter(user, agent, audience, type_, outcome, since, until, limit, True)))
    if as_json:
        print(json.dumps([_flat(r) for r in reversed(rows)], indent=2))
        return
    table = Table()
    for column in ("seq", "time (UTC)", "event", "who", "chain", "audience", "scopes", "outcome"):
        table.add_column(column, overflow="fold")
    for r in reversed(rows):
        e = r.event
        when = datetime.fromtimestamp(r.time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        who = e.subject or e.admin or "-"
        chain = " ← ".join(e.actor_chain) or (e.client_id or "-")
        scopes = " ".join(e.scope_granted) if e.scope_granted is not None else (" ".join(e.scope_requested or ()) or "-")
        result = "[green]ok[/green]" if e.outcome == "success" else f"[red]{e.error or 'failed'}: {e.reason}[/red]"
        table.add_row(str(r.seq), when, e.type, who, chain, " ".join(e.audience) or "-", scopes, result)
    console.print(table)


@audit.command("export")
def audit_export(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    user: Optional[str] = UserOpt, agent: Optional[str] = AgentOpt, audience: Optional[str] = AudOpt,
    type_: Optional[str] = TypeOpt, outcome: Optional[str] = OutcomeOpt, since: Optional[str] = SinceOpt,
    until: Optional[str] = UntilOpt, home: Optional[Path] = Home,
) -> None:
    """Export events (oldest first) with their chain hashes, as JSON lines or CSV."""
    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("--format must be jsonl or csv")
    stream = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    count = 0
    try:
        with open_deputy(home) as deputy:
            records = deputy.store.audit.records(_filter(user, agent, audience, type_, outcome, since, until, None, False))
            writer = None
            for record in records:
                flat = _flat(record)
                if fmt == "jsonl":
                    stream.write(json.dumps(flat, sort_keys=True) + "\n")
                else:
                    if writer is None:
                        writer = csv.DictWriter(stream, fieldnames=list(flat))
                        writer.writeheader()
                    writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in flat.items()})
                count += 1
    finally:
        if output:
            stream.close()
    if output:
        console.print(f"exported {count} event(s) to {output}")


@audit.command("verify")
def audit_verify(home: Optional[Path] = Home) -> None:
    """Check the hash chain from the first event to the last; exit 1 if it is broken."""
    with open_deputy(home) as deputy:
        count, broken = verify_chain(deputy.store.audit.records())
    if broken is None:
        console.print(f"[green]audit trail intact[/green]: {count} event(s) verified")
        return
    err_console.print(f"[red]audit trail BROKEN at seq {broken.seq}[/red]: {broken.problem}")
    raise typer.Exit(1)
