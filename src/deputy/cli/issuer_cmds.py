"""``deputy issuers``: the external identity providers whose tokens agents may exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from deputy.admin.issuer_schema import parse_trusted_issuer, trusted_issuer_to_dict
from deputy.cli.common import HomeOption, console, open_deputy, print_json

issuers = typer.Typer(
    help="Trusted external issuers (Entra ID, Okta, Keycloak...) whose user tokens agents may exchange.",
    no_args_is_help=True,
)

Home = HomeOption


def _pairs(items: list[str], option: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        left, sep, right = item.partition("=")
        if not sep or not left or not right:
            raise typer.BadParameter(f"{option} {item!r}: expected KEY=VALUE")
        out.append((left, right))
    return out


@issuers.command("add")
def issuers_add(
    issuer: str = typer.Argument(..., help="The issuer identifier, exactly as the tokens' 'iss' claim says it."),
    discovery_url: str = typer.Option("", help="Its OpenID Connect / RFC 8414 discovery document URL."),
    jwks_uri: str = typer.Option("", help="Its JWKS URL (instead of --discovery-url)."),
    user_claim: str = typer.Option("sub", help="The claim that names the Deputy user (sub, oid, preferred_username, email...)."),
    provision: bool = typer.Option(False, help="Create users seen for the first time instead of refusing them."),
    groups_claim: str = typer.Option("", help="The claim that lists the user's groups (for --group-map)."),
    group_map: list[str] = typer.Option([], "--group-map", help="EXTERNAL=DEPUTY_GROUP (repeatable)."),
    agent: list[str] = typer.Option(
        [], "--agent", help="CLIENT_ID=AUDIENCE[,AUDIENCE...]: the aud values that mean this agent there (repeatable)."
    ),
    alg: list[str] = typer.Option([], "--alg", help="An accepted signing algorithm (repeatable; default RS256 and ES256)."),
    typ: list[str] = typer.Option(
        [], "--typ", help="An accepted JOSE typ header (repeatable; '' for none; default at+jwt, JWT and '')."
    ),
    id_jag: bool = typer.Option(False, "--id-jag", help="Also redeem its ID-JAGs (cross-app access)."),
    home: Optional[Path] = Home,
) -> None:
    """Trust an issuer, or replace its settings."""
    data: dict[str, Any] = {
        "issuer": issuer, "discovery_url": discovery_url, "jwks_uri": jwks_uri, "user_claim": user_claim,
        "provision": provision, "groups_claim": groups_claim, "group_map": dict(_pairs(group_map, "--group-map")),
        "agent_audiences": {
            client_id: [a for a in audiences.split(",") if a] for client_id, audiences in _pairs(agent, "--agent")
        },
    }
    if alg:
        data["algorithms"] = list(alg)
    if typ:
        data["token_types"] = list(typ)
    if id_jag:
        data["id_jag"] = True
    with open_deputy(home) as deputy:
        saved = deputy.admin("cli").put_issuer(parse_trusted_issuer(data))
        console.print(f"issuer [bold]{saved.issuer}[/bold] trusted (users named by '{saved.user_claim}')")
        if not saved.agent_audiences:
            console.print("[yellow]no --agent given: no agent can exchange this issuer's tokens yet[/yellow]")


@issuers.command("list")
def issuers_list(home: Optional[Path] = Home, as_json: bool = typer.Option(False, "--json")) -> None:
    """List trusted issuers."""
    with open_deputy(home) as deputy:
        rows = [trusted_issuer_to_dict(t) for t in deputy.store.issuers.list_trusted_issuers()]
    if as_json:
        print_json(rows)
        return
    table = Table("user claim", "provision", "agents", "keys from")
    table.add_column("issuer", no_wrap=True, min_width=40)  # kept whole: it must be copyable as it is
    for row in rows:
        source = "discovery" if row.get("discovery_url") else "JWKS URL"
        table.add_row(
            row["user_claim"], "yes" if row["provision"] else "", ", ".join(row["agent_audiences"]), source,
            row["issuer"],
        )
    console.print(table)


@issuers.command("show")
def issuers_show(issuer: str, home: Optional[Path] = Home) -> None:
    """Show one trusted issuer's settings."""
    with open_deputy(home) as deputy:
        print_json(trusted_issuer_to_dict(deputy.admin("cli").get_issuer(issuer)))


@issuers.command("remove")
def issuers_remove(issuer: str, home: Optional[Path] = Home) -> None:
    """Stop trusting an issuer."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").delete_issuer(issuer)
        console.print(f"issuer [bold]{issuer}[/bold] removed")


__all__ = ["issuers"]
