"""`deputy approvals`: users' pending backchannel (CIBA) requests, approved or denied from the
server's machine (docs/approvals.md). The CLI acts for the user it names: ``--user`` must be the
user the request asks, and the audit trail records the decision as made ``via cli``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from deputy.cli.common import HomeOption, console, open_deputy, print_json

approvals = typer.Typer(help="Human approval: users' pending requests from agents (CIBA).", no_args_is_help=True)

Home = HomeOption


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@approvals.command("list")
def approvals_list(
    user: str | None = typer.Option(None, "--user", help="Only this user's requests."),
    as_json: bool = typer.Option(False, "--json"),
    home: Path | None = Home,
) -> None:
    """List pending requests (unexpired, not yet decided)."""
    with open_deputy(home) as deputy:
        pending = deputy.approvals.pending(user)
    if as_json:
        print_json([
            {"request_id": r.request_id, "user": r.username, "agent": r.client_id, "resource": r.resource,
             "scopes": list(r.scopes), "binding_message": r.binding_message, "expires_at": r.expires_at}
            for r in pending
        ])
        return
    if not pending:
        console.print("no pending requests")
        return
    table = Table("id", "user", "agent", "resource", "scopes", "message", "expires")
    for r in pending:
        table.add_row(
            r.request_id, r.username, r.client_id, r.resource, " ".join(r.scopes), r.binding_message or "",
            _when(r.expires_at),
        )
    console.print(table)


def _decide(request_id: str, user: str, approve: bool, home: Path | None) -> None:
    with open_deputy(home) as deputy:
        decided = deputy.approvals.decide(request_id, user, approve, via="cli")
    request = decided.request
    verb = "approved" if approve else "denied"
    console.print(
        f"request [bold]{request_id}[/bold] {verb}: {request.client_id} for {request.username} at "
        f"{request.resource} ({' '.join(request.scopes)})"
    )


@approvals.command("approve")
def approvals_approve(
    request_id: str,
    user: str = typer.Option(..., "--user", help="The user the request asks (a guard against the wrong id)."),
    home: Path | None = Home,
) -> None:
    """Approve a pending request: the agent's next poll gets one delegated token."""
    _decide(request_id, user, True, home)


@approvals.command("deny")
def approvals_deny(
    request_id: str,
    user: str = typer.Option(..., "--user", help="The user the request asks."),
    home: Path | None = Home,
) -> None:
    """Deny a pending request: the agent's next poll gets access_denied."""
    _decide(request_id, user, False, home)


__all__ = ["approvals"]
