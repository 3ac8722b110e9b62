"""``deputy partners``: other domains' authorization servers for which Deputy issues ID-JAGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from deputy.admin.partner_schema import parse_partner_server, partner_server_to_dict
from deputy.cli.common import HomeOption, console, open_deputy, print_json

partners = typer.Typer(
    help="Partner authorization servers: Deputy, as the enterprise IdP, gives agents ID-JAGs for them "
    "(cross-app access).",
    no_args_is_help=True,
)

Home = HomeOption


@partners.command("add")
def partners_add(
    issuer: str = typer.Argument(..., help="The partner's issuer identifier, exactly as its metadata says it."),
    name: str = typer.Option("", help="A display name."),
    agent: list[str] = typer.Option(
        [], "--agent", help="CLIENT_ID=REMOTE_CLIENT_ID: the agent's client_id at the partner (repeatable)."
    ),
    scope: list[str] = typer.Option([], "--scope", "-s", help="A scope an ID-JAG may carry (repeatable)."),
    resource: list[str] = typer.Option([], "--resource", help="A resource parameter value to accept (repeatable)."),
    alg: str = typer.Option("RS256", help="The ID-JAG signing algorithm: RS256 or ES256."),
    home: Optional[Path] = Home,
) -> None:
    """Add a partner authorization server, or replace its settings."""
    clients: dict[str, str] = {}
    for item in agent:
        left, sep, right = item.partition("=")
        if not sep or not left or not right:
            raise typer.BadParameter(f"--agent {item!r}: expected CLIENT_ID=REMOTE_CLIENT_ID")
        clients[left] = right
    data: dict[str, Any] = {
        "issuer": issuer, "name": name, "agent_clients": clients, "scopes": list(scope),
        "resources": list(resource), "signing_alg": alg,
    }
    with open_deputy(home) as deputy:
        saved = deputy.admin("cli").put_partner(parse_partner_server(data))
        console.print(f"partner [bold]{saved.issuer}[/bold] saved ({len(saved.agent_clients)} agent(s))")
        if not saved.agent_clients:
            console.print("[yellow]no --agent given: no agent can get an ID-JAG for this partner yet[/yellow]")


@partners.command("list")
def partners_list(home: Optional[Path] = Home, as_json: bool = typer.Option(False, "--json")) -> None:
    """List partner authorization servers."""
    with open_deputy(home) as deputy:
        rows = [partner_server_to_dict(p) for p in deputy.store.partners.list_partners()]
    if as_json:
        print_json(rows)
        return
    table = Table()
    table.add_column("issuer", no_wrap=True, overflow="fold")  # kept whole: it must be copyable as it is
    table.add_column("agents (client_id there)")
    table.add_column("scopes")
    for row in rows:
        agents = ", ".join(f"{a}={r}" for a, r in row["agent_clients"].items())
        table.add_row(row["issuer"], agents, " ".join(row["scopes"]))
    console.print(table)


@partners.command("show")
def partners_show(issuer: str, home: Optional[Path] = Home) -> None:
    """Show one partner's settings."""
    with open_deputy(home) as deputy:
        print_json(partner_server_to_dict(deputy.admin("cli").get_partner(issuer)))


@partners.command("remove")
def partners_remove(issuer: str, home: Optional[Path] = Home) -> None:
    """Stop issuing ID-JAGs for a partner."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").delete_partner(issuer)
        console.print(f"partner [bold]{issuer}[/bold] removed")


__all__ = ["partners"]
