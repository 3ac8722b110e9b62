"""Sign-in commands: users' passwords, and the consents (delegation grants) users gave."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from deputy.admin.schema import consent_to_dict
from deputy.cli.common import HomeOption, console, open_deputy, print_json

consents = typer.Typer(help="Consents: what users allowed apps and agents to do for them.", no_args_is_help=True)

Home = HomeOption


def _when(epoch: int | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M")


@consents.command("list")
def consents_list(
    user: str | None = typer.Option(None, "--user", help="Only this user's consents."),
    include_withdrawn: bool = typer.Option(False, "--all", help="Include withdrawn consents."),
    as_json: bool = typer.Option(False, "--json"),
    home: Path | None = Home,
) -> None:
    """List consents (delegation grants)."""
    with open_deputy(home) as deputy:
        found = deputy.admin("cli").list_consents(user, include_withdrawn=include_withdrawn)
    if as_json:
        print_json([consent_to_dict(c) for c in found])
        return
    table = Table("id", "user", "client", "resource", "scopes", "since", "ends", "withdrawn")
    for c in found:
        table.add_row(
            c.consent_id, c.username, c.client_id, c.resource or "(the client itself)", " ".join(c.scopes),
            _when(c.created_at), _when(c.expires_at), _when(c.withdrawn_at),
        )
    console.print(table)


@consents.command("withdraw")
def consents_withdraw(consent_id: str, home: Path | None = Home) -> None:
    """Withdraw a consent: every token issued under it (and exchanged from those) is revoked."""
    with open_deputy(home) as deputy:
        revoked = deputy.admin("cli").withdraw_consent(consent_id)
    console.print(f"consent [bold]{consent_id}[/bold] withdrawn; {revoked} token(s) revoked")


def users_set_password(
    username: str,
    password: str | None = typer.Option(
        None, "--password", help="The new password (for scripts; prompted for when omitted)."
    ),
    home: Path | None = Home,
) -> None:
    """Set a user's sign-in password (stored as an argon2id hash; clears a lock-out)."""
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with open_deputy(home) as deputy:
        deputy.admin("cli").set_password(username, password)
    console.print(f"password set for [bold]{username}[/bold]")


__all__ = ["consents", "users_set_password"]
