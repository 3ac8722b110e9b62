"""Token commands: mint a dev user token, exchange over HTTP, decode; lineage; signing keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import httpx
import typer
from rich.table import Table
from rich.tree import Tree

from deputy.cli.common import HomeOption, console, err_console, open_deputy, print_json, settings_for
from deputy.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN
from deputy.jose import JWTInvalid, peek_claims

token = typer.Typer(help="Get, exchange and decode tokens.", no_args_is_help=True)
tokens = typer.Typer(help="Issued tokens: lineage and revocation.", no_args_is_help=True)
keys = typer.Typer(help="Signing keys.", no_args_is_help=True)

Home = HomeOption


@token.command("user")
def token_user(
    username: str,
    client: str = typer.Option(..., "--client", help="The agent the user's token is for (its audience)."),
    scope: list[str] = typer.Option(["openid"], "--scope", "-s", help="Scope (repeatable)."),
    ttl: Optional[int] = typer.Option(None, help="Lifetime in seconds."),
    may_act: Optional[str] = typer.Option(None, help="Only this agent may act with the token (may_act.sub)."),
    home: Optional[Path] = Home,
) -> None:
    """Print a user's access token for an agent (development stand-in for sign-in)."""
    with open_deputy(home) as deputy:
        value = deputy.admin("cli").issue_user_token(
            username, client, scope, ttl, {"sub": may_act} if may_act else None
        )
    print(value)


@token.command("exchange")
def token_exchange(
    client: str = typer.Option(..., "--client", help="The agent's client_id."),
    secret: str = typer.Option(..., "--secret", envvar="DEPUTY_CLIENT_SECRET", help="The agent's client secret."),
    subject_token: str = typer.Option(..., "--subject-token", help="The token to exchange ('-' reads stdin)."),
    audience: Optional[str] = typer.Option(None, help="Target audience."),
    resource: Optional[str] = typer.Option(None, help="Target resource URI."),
    scope: Optional[str] = typer.Option(None, help="Space-separated scopes to request."),
    actor_token: Optional[str] = typer.Option(None, help="An actor token for the agent."),
    server: Optional[str] = typer.Option(None, help="Deputy's issuer URL (default: the configured issuer)."),
    raw: bool = typer.Option(False, "--raw", help="Print only the access token."),
) -> None:
    """Exchange a subject token at the token endpoint (RFC 8693) as an agent, over HTTP."""
    if subject_token == "-":
        subject_token = sys.stdin.read().strip()
    base = server or settings_for(None).issuer
    data = {"grant_type": GRANT_TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": TOKEN_TYPE_ACCESS_TOKEN}
    for name, value in (("audience", audience), ("resource", resource), ("scope", scope)):
        if value:
            data[name] = value
    if actor_token:
        data.update(actor_token=actor_token, actor_token_type=TOKEN_TYPE_ACCESS_TOKEN)
    try:
        response = httpx.post(f"{base}/token", data=data, auth=(client, secret), timeout=10)
    except httpx.HTTPError as exc:
        err_console.print(f"[red]cannot reach {base}:[/red] {exc.__class__.__name__}")
        raise typer.Exit(1) from None
    body = response.json()
    if response.status_code != 200:
        err_console.print(f"[red]{response.status_code} {body.get('error')}:[/red] {body.get('error_description')}")
        raise typer.Exit(1)
    if raw:
        print(body["access_token"])
        return
    print_json(body)
    _print_claims(body["access_token"])


def _print_claims(value: str) -> None:
    try:
        header, claims = peek_claims(value)
    except JWTInvalid as exc:
        err_console.print(f"[red]not a JWT:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print("[dim]header (unverified)[/dim]")
    print_json(header)
    console.print("[dim]claims (unverified)[/dim]")
    print_json(claims)
    chain = []
    act = claims.get("act")
    while isinstance(act, dict):
        chain.append(str(act.get("sub")))
        act = act.get("act")
    if chain:
        console.print(f"[bold]{claims.get('sub')}[/bold] ← " + " ← ".join(chain) + f"  → {claims.get('aud')}")


@token.command("decode")
def token_decode(value: str = typer.Argument(..., help="A JWT ('-' reads stdin).")) -> None:
    """Show a JWT's header and claims WITHOUT verifying it, and the actor chain."""
    if value == "-":
        value = sys.stdin.read().strip()
    _print_claims(value)


@tokens.command("show")
def tokens_show(jti: str, home: Optional[Path] = Home) -> None:
    """Show a token and every token exchanged from it, as a tree."""
    with open_deputy(home) as deputy:
        records = deputy.store.tokens.descendants(jti)
    if not records:
        err_console.print(f"[red]no token with jti {jti!r}[/red]")
        raise typer.Exit(1)
    nodes: dict[str, Tree] = {}
    root: Tree | None = None
    for r in records:
        state = f"[red]revoked ({r.revoked_reason})[/red]" if r.revoked_at else "[green]live[/green]"
        actors = " ← ".join(r.actors) if r.actors else "-"
        label = f"{r.jti}  sub={r.subject} actors={actors} aud={' '.join(r.audience)} scope={' '.join(r.scope)} {state}"
        parent = nodes.get(r.parent_jti or "")
        node = parent.add(label) if parent is not None and r.jti != jti else Tree(label)
        if r.jti == jti:
            root = node
        nodes[r.jti] = node
    if root is not None:
        console.print(root)


@tokens.command("revoke")
def tokens_revoke(jti: str, home: Optional[Path] = Home) -> None:
    """Revoke a token by jti, and every token exchanged from it."""
    with open_deputy(home) as deputy:
        count = deputy.admin("cli").revoke_token(jti)
    console.print(f"revoked {count} token(s)")


@keys.command("list")
def keys_list(home: Optional[Path] = Home) -> None:
    """List signing keys."""
    with open_deputy(home) as deputy:
        table = Table("kid", "alg", "created", "retires")
        for k in deputy.store.keys.stored_keys():
            table.add_row(k.kid, k.alg, str(k.created_at), "active" if k.retire_at is None else str(k.retire_at))
        console.print(table)


@keys.command("rotate")
def keys_rotate(
    alg: str = typer.Option("ES256", help="ES256 or RS256."),
    overlap: Optional[int] = typer.Option(None, help="Seconds the old key stays published (default: settings)."),
    home: Optional[Path] = Home,
) -> None:
    """Make a new signing key; the old one stays in the JWKS for the overlap window."""
    with open_deputy(home) as deputy:
        key = deputy.admin("cli").rotate_key(alg, overlap)
    console.print(f"new {alg} key [bold]{key.kid}[/bold]; servers pick it up within the key refresh interval")


__all__ = ["keys", "token", "tokens"]
