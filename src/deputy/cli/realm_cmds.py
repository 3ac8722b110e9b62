"""Realm management commands: users, groups, resources, entitlements, agents, realm files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from deputy.admin.realm_file import export_realm, load_realm, read_realm_file
from deputy.admin.schema import agent_view, parse_agent, parse_resource, resource_to_dict
from deputy.cli.common import HomeOption, console, open_deputy, print_json
from deputy.errors import NotFound
from deputy.realm import AgentStatus, Entitlement, ResourceGrant

users = typer.Typer(help="Users (a stand-in for sign-in until it lands).", no_args_is_help=True)
groups = typer.Typer(help="Groups.", no_args_is_help=True)
resources = typer.Typer(help="Resources: the APIs (and agents) tokens are issued for.", no_args_is_help=True)
entitlements = typer.Typer(help="Which groups may use which scopes at which resource.", no_args_is_help=True)
agents = typer.Typer(help="The agent registry.", no_args_is_help=True)
realm = typer.Typer(help="Load or export a whole realm as one declarative file.", no_args_is_help=True)

Home = HomeOption


# -- users ------------------------------------------------------------------------------------
@users.command("list")
def users_list(home: Optional[Path] = Home) -> None:
    """List users."""
    with open_deputy(home) as deputy:
        table = Table("username", "name", "email", "groups", "disabled")
        for u in deputy.store.realm.list_users():
            table.add_row(u.username, u.display_name, u.email, ", ".join(u.groups), "yes" if u.disabled else "")
        console.print(table)


@users.command("add")
def users_add(
    username: str,
    group: list[str] = typer.Option([], "--group", "-g", help="Group membership (repeatable)."),
    name: str = typer.Option("", help="Display name."),
    email: str = typer.Option("", help="Email address."),
    disabled: bool = typer.Option(False, help="Create the user disabled."),
    home: Optional[Path] = Home,
) -> None:
    """Add or update a user."""
    from deputy.admin.schema import parse_user

    with open_deputy(home) as deputy:
        user = parse_user({"username": username, "groups": list(group), "display_name": name, "email": email, "disabled": disabled})
        deputy.admin("cli").put_user(user)
        console.print(f"user [bold]{username}[/bold] saved (groups: {', '.join(user.groups) or 'none'})")


@users.command("disable")
def users_disable(username: str, home: Optional[Path] = Home) -> None:
    """Disable a user: every token for them stops working at once."""
    with open_deputy(home) as deputy:
        admin = deputy.admin("cli")
        user = deputy.store.realm.get_user(username)
        if user is None:
            raise typer.BadParameter(f"no user {username!r}")
        admin.put_user(replace(user, disabled=True))
        console.print(f"user [bold]{username}[/bold] disabled")


@users.command("remove")
def users_remove(username: str, home: Optional[Path] = Home) -> None:
    """Delete a user."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").delete_user(username)
        console.print(f"user [bold]{username}[/bold] removed")


# -- groups -----------------------------------------------------------------------------------
@groups.command("list")
def groups_list(home: Optional[Path] = Home) -> None:
    """List groups."""
    with open_deputy(home) as deputy:
        table = Table("name", "description")
        for g in deputy.store.realm.list_groups():
            table.add_row(g.name, g.description)
        console.print(table)


@groups.command("add")
def groups_add(name: str, description: str = typer.Option(""), home: Optional[Path] = Home) -> None:
    """Add or update a group."""
    from deputy.admin.schema import parse_group

    with open_deputy(home) as deputy:
        deputy.admin("cli").put_group(parse_group({"name": name, "description": description}))
        console.print(f"group [bold]{name}[/bold] saved")


@groups.command("remove")
def groups_remove(name: str, home: Optional[Path] = Home) -> None:
    """Delete a group (and its memberships and entitlements)."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").delete_group(name)
        console.print(f"group [bold]{name}[/bold] removed")


# -- resources --------------------------------------------------------------------------------
@resources.command("list")
def resources_list(home: Optional[Path] = Home) -> None:
    """List resources."""
    with open_deputy(home) as deputy:
        table = Table("identifier", "name", "scopes", "needs approval", "alg", "ttl")
        for r in deputy.store.realm.list_resources():
            table.add_row(
                r.identifier, r.name, " ".join(r.scopes), " ".join(r.approval_scopes) or "-", r.signing_alg, str(r.token_ttl)
            )
        console.print(table)


@resources.command("add")
def resources_add(
    identifier: str,
    scope: list[str] = typer.Option([], "--scope", "-s", help="A scope the resource defines (repeatable)."),
    name: str = typer.Option(""),
    alg: str = typer.Option("ES256", help="Signing algorithm for its tokens: ES256 or RS256."),
    ttl: int = typer.Option(300, help="Token lifetime in seconds."),
    approval: list[str] = typer.Option(
        [], "--approval", "-a", help="A scope issued only after the user approves (CIBA; repeatable)."
    ),
    home: Optional[Path] = Home,
) -> None:
    """Add or update a resource."""
    with open_deputy(home) as deputy:
        resource = parse_resource({
            "identifier": identifier, "name": name, "scopes": list(scope), "signing_alg": alg, "token_ttl": ttl,
            "approval_scopes": list(approval),
        })
        deputy.admin("cli").put_resource(resource)
        console.print(f"resource [bold]{identifier}[/bold] saved")


@resources.command("require-approval")
def resources_require_approval(
    identifier: str,
    scope: list[str] = typer.Option([], "--scope", "-s", help="A scope that needs the user's approval (repeatable)."),
    home: Optional[Path] = Home,
) -> None:
    """Set which scopes of a resource are issued only after the user approves (docs/approvals.md).
    Without --scope, no scope needs approval any more."""
    with open_deputy(home) as deputy:
        current = deputy.store.realm.get_resource(identifier)
        if current is None:
            raise NotFound("not_found", f"resource {identifier}", public=f"No resource {identifier!r}.")
        data = resource_to_dict(current)
        data["approval_scopes"] = list(scope)
        deputy.admin("cli").put_resource(parse_resource(data))
        needing = ", ".join(scope) if scope else "no scope"
        console.print(f"resource [bold]{identifier}[/bold]: {needing} needs the user's approval")


@resources.command("remove")
def resources_remove(identifier: str, home: Optional[Path] = Home) -> None:
    """Delete a resource (and the grants and entitlements that name it)."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").delete_resource(identifier)
        console.print(f"resource [bold]{identifier}[/bold] removed")


# -- entitlements -----------------------------------------------------------------------------
@entitlements.command("list")
def entitlements_list(home: Optional[Path] = Home) -> None:
    """List group entitlements."""
    with open_deputy(home) as deputy:
        table = Table("group", "resource", "scopes")
        for e in deputy.store.realm.list_entitlements():
            table.add_row(e.group, e.resource, " ".join(e.scopes))
        console.print(table)


@entitlements.command("set")
def entitlements_set(
    group: str,
    resource: str,
    scope: list[str] = typer.Option([], "--scope", "-s", help="Scope (repeatable); none removes the entitlement."),
    home: Optional[Path] = Home,
) -> None:
    """Set the scopes a group's members may use at a resource."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").set_entitlement(Entitlement(group, resource, tuple(scope)))
        console.print(f"[bold]{group}[/bold] at [bold]{resource}[/bold]: {' '.join(scope) or '(nothing)'}")


# -- agents -----------------------------------------------------------------------------------
def _agent_table(rows: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("client_id", "status", "owners", "acts for", "resources", "impersonate", "credentials"):
        table.add_column(column, overflow="fold")
    for a in rows:
        acts_for = [*a["subject_users"], *(f"group:{g}" for g in a["subject_groups"])]
        res = [f"{g['resource']} ({' '.join(g['scopes'])})" for g in a["resources"]]
        creds = f"{len(a['secrets'])} secret(s), {len(a['keys'])} key(s)"
        table.add_row(
            str(a["client_id"]), str(a["status"]), ", ".join(a["owners"]),
            ", ".join(acts_for), "\n".join(res), "yes" if a["may_impersonate"] else "", creds,
        )
    return table


@agents.command("list")
def agents_list(home: Optional[Path] = Home, as_json: bool = typer.Option(False, "--json")) -> None:
    """List agents with what each may do."""
    with open_deputy(home) as deputy:
        rows = [agent_view(a) for a in deputy.store.realm.list_agents()]
        if as_json:
            print_json(rows)
        else:
            console.print(_agent_table(rows))


@agents.command("show")
def agents_show(client_id: str, home: Optional[Path] = Home) -> None:
    """Show one agent (credential metadata only, never secrets)."""
    with open_deputy(home) as deputy:
        print_json(agent_view(deputy.admin("cli").get_agent(client_id)))


@agents.command("add")
def agents_add(
    client_id: str,
    name: str = typer.Option(""),
    owner: list[str] = typer.Option([], "--owner", help="Owner username (repeatable)."),
    user: list[str] = typer.Option([], "--user", help="A user it may act for; '*' for anyone (repeatable)."),
    group: list[str] = typer.Option([], "--group", help="A group whose members it may act for (repeatable)."),
    allow: list[str] = typer.Option([], "--allow", help="RESOURCE=SCOPE[,SCOPE...] it may obtain (repeatable)."),
    impersonate: bool = typer.Option(False, help="Allow impersonation (tokens without act)."),
    activate: bool = typer.Option(False, help="Create it active instead of staged."),
    home: Optional[Path] = Home,
) -> None:
    """Register an agent; prints its client secret once."""
    grants = []
    for item in allow:
        resource, sep, scopes = item.rpartition("=")
        if not sep:
            raise typer.BadParameter(f"--allow {item!r}: expected RESOURCE=SCOPE[,SCOPE...]")
        grants.append({"resource": resource, "scopes": [s for s in scopes.split(",") if s]})
    with open_deputy(home) as deputy:
        agent = parse_agent(
            {"client_id": client_id, "name": name, "owners": list(owner), "subject_users": list(user),
             "subject_groups": list(group), "resources": grants, "may_impersonate": impersonate,
             "status": "active" if activate else "staged"}
        )
        issued = deputy.admin("cli").create_agent(agent)
        console.print(f"agent [bold]{client_id}[/bold] registered ({agent.status.value})")
        if issued is not None:
            console.print(f"client secret (shown once): [bold]{issued.secret.reveal()}[/bold]")


def _set_status(client_id: str, status: AgentStatus, home: Optional[Path]) -> None:
    with open_deputy(home) as deputy:
        _, revoked = deputy.admin("cli").set_agent_status(client_id, status)
        console.print(f"agent [bold]{client_id}[/bold] is now {status.value}" + (f"; {revoked} live token(s) revoked" if revoked else ""))


@agents.command("activate")
def agents_activate(client_id: str, home: Optional[Path] = Home) -> None:
    """Make an agent active."""
    _set_status(client_id, AgentStatus.ACTIVE, home)


@agents.command("suspend")
def agents_suspend(client_id: str, home: Optional[Path] = Home) -> None:
    """Suspend an agent: its live tokens become inactive and new exchanges are refused."""
    _set_status(client_id, AgentStatus.SUSPENDED, home)


@agents.command("retire")
def agents_retire(client_id: str, home: Optional[Path] = Home) -> None:
    """Retire an agent for good."""
    _set_status(client_id, AgentStatus.RETIRED, home)


@agents.command("remove")
def agents_remove(client_id: str, home: Optional[Path] = Home) -> None:
    """Delete an agent (its tokens are revoked first)."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").delete_agent(client_id)
        console.print(f"agent [bold]{client_id}[/bold] removed")


@agents.command("allow")
def agents_allow(
    client_id: str,
    resource: str,
    scope: list[str] = typer.Option([], "--scope", "-s", help="Scope (repeatable); none removes the grant."),
    home: Optional[Path] = Home,
) -> None:
    """Set the scopes an agent may obtain at a resource."""
    with open_deputy(home) as deputy:
        admin = deputy.admin("cli")
        agent = admin.get_agent(client_id)
        grants = [g for g in agent.resource_grants if g.resource != resource]
        if scope:
            grants.append(ResourceGrant(resource, tuple(scope)))
        admin.update_agent(replace(agent, resource_grants=tuple(grants)))
        console.print(f"[bold]{client_id}[/bold] at [bold]{resource}[/bold]: {' '.join(scope) or '(nothing)'}")


@agents.command("subjects")
def agents_subjects(
    client_id: str,
    user: list[str] = typer.Option([], "--user", help="User it may act for; '*' for anyone (repeatable)."),
    group: list[str] = typer.Option([], "--group", help="Group whose members it may act for (repeatable)."),
    home: Optional[Path] = Home,
) -> None:
    """Replace the users and groups an agent may act for."""
    with open_deputy(home) as deputy:
        admin = deputy.admin("cli")
        agent = admin.get_agent(client_id)
        admin.update_agent(replace(agent, subject_users=tuple(user), subject_groups=tuple(group)))
        console.print(f"[bold]{client_id}[/bold] may act for users {list(user)} and groups {list(group)}")


@agents.command("new-secret")
def agents_new_secret(
    client_id: str,
    replace_existing: bool = typer.Option(False, "--replace", help="The agent's other secrets stop working."),
    grace: int = typer.Option(0, "--grace", help="With --replace: seconds the old secrets keep working."),
    home: Optional[Path] = Home,
) -> None:
    """Create a client secret (printed once)."""
    with open_deputy(home) as deputy:
        issued = deputy.admin("cli").new_secret(client_id, replace_existing=replace_existing, grace_seconds=grace)
        console.print(f"client secret {issued.secret_id} (shown once): [bold]{issued.secret.reveal()}[/bold]")


@agents.command("add-key")
def agents_add_key(client_id: str, jwk_file: Path, home: Optional[Path] = Home) -> None:
    """Register a public JWK (JSON file) for private_key_jwt client authentication."""
    jwk = json.loads(jwk_file.read_text())
    with open_deputy(home) as deputy:
        key = deputy.admin("cli").add_key(client_id, jwk)
        console.print(f"key [bold]{key.kid}[/bold] registered for {client_id}")


@agents.command("remove-key")
def agents_remove_key(client_id: str, kid: str, home: Optional[Path] = Home) -> None:
    """Remove a registered public key."""
    with open_deputy(home) as deputy:
        deputy.admin("cli").remove_key(client_id, kid)
        console.print(f"key [bold]{kid}[/bold] removed from {client_id}")


# -- realm files ------------------------------------------------------------------------------
@realm.command("load")
def realm_load(path: Path, home: Optional[Path] = Home) -> None:
    """Apply a realm file (TOML or JSON): groups, resources, users, entitlements, agents."""
    with open_deputy(home) as deputy:
        summary = load_realm(deputy.admin("cli"), read_realm_file(path))
        console.print("loaded " + ", ".join(f"{n} {k}" for k, n in summary.counts.items()))


@realm.command("export")
def realm_export(home: Optional[Path] = Home) -> None:
    """Print the realm as JSON (no secrets)."""
    with open_deputy(home) as deputy:
        print(json.dumps(export_realm(deputy.admin("cli")), indent=2))


__all__ = ["agents", "entitlements", "groups", "realm", "resources", "users"]
