"""``deputy``: run the server, manage the realm, mint and inspect tokens, read the audit trail."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import make_url

from deputy import __version__
from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.cli import audit_cmds, realm_cmds, token_cmds
from deputy.cli import issuer_cmds
from deputy.cli import consent_cmds
from deputy.cli import partner_cmds
from deputy.cli import approval_cmds
from deputy.cli.demo_cmd import demo as demo_command
from deputy.config import write_config_file
from deputy.cli.common import HomeOption, console, err_console, open_deputy, settings_for
from deputy.cli.workers import Workers, reuse_port_supported
from deputy.runtime import admin_token_for

DEV_REALM = Path(__file__).resolve().parents[1] / "admin" / "dev_realm.toml"

app = typer.Typer(
    name="deputy",
    help="Deputy: on-behalf-of identity for AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(realm_cmds.users, name="users")
app.add_typer(realm_cmds.groups, name="groups")
app.add_typer(realm_cmds.resources, name="resources")
app.add_typer(realm_cmds.entitlements, name="entitlements")
app.add_typer(realm_cmds.agents, name="agents")
app.add_typer(realm_cmds.realm, name="realm")
app.add_typer(token_cmds.token, name="token")
app.add_typer(token_cmds.tokens, name="tokens")
app.add_typer(token_cmds.keys, name="keys")
app.add_typer(audit_cmds.audit, name="audit")
app.add_typer(consent_cmds.consents, name="consents")
app.add_typer(approval_cmds.approvals, name="approvals")
realm_cmds.users.command("set-password")(consent_cmds.users_set_password)
app.add_typer(issuer_cmds.issuers, name="issuers")
app.add_typer(partner_cmds.partners, name="partners")
app.command("demo")(demo_command)


@app.command()
def version() -> None:
    """Print Deputy's version."""
    console.print(__version__)


@app.command()
def init(home: Optional[Path] = HomeOption, dev_realm: bool = typer.Option(False, help="Also load the development realm.")) -> None:
    """Create the store and signing keys (idempotent)."""
    with open_deputy(home) as deputy:
        if dev_realm:
            load_realm(deputy.admin("cli"), read_realm_file(DEV_REALM))
        # the URL may hold the database password: never print it
        shown = make_url(deputy.settings.db_url).render_as_string(hide_password=True)
        console.print(f"store ready at [bold]{shown}[/bold]")


def _print_dev_banner(issuer: str, admin_token: str, home: Path) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("issuer", issuer)
    table.add_row("discovery", f"{issuer}/.well-known/oauth-authorization-server")
    table.add_row("token endpoint", f"{issuer}/token")
    table.add_row("JWKS", f"{issuer}/jwks")
    table.add_row("admin API", f"{issuer}/admin  (Authorization: Bearer {admin_token})")
    table.add_row("data", str(home))
    table.add_row("", "")
    table.add_row("users", "jane (group it), bob (group hr)")
    table.add_row("sign-in", f"{issuer}/authorize  jane / jane-dev-password, bob / bob-dev-password")
    table.add_row("agents", "incident-agent / incident-agent-dev-secret")
    table.add_row("", "triage-agent / triage-agent-dev-secret")
    table.add_row("resources", "https://incidents.example  (incidents:read incidents:write hr:read)")
    table.add_row("", "triage-agent  (an agent that receives delegated tokens)")
    console.print(Panel(table, title="Deputy development server", border_style="cyan"))
    home_flag = f"DEPUTY_HOME={home} " if home != Path(".deputy").resolve() else ""
    console.print("Try it from another terminal (same directory):")
    console.print(f"  [bold]TOKEN=$({home_flag}.venv/bin/deputy token user jane --client incident-agent)[/bold]")
    console.print(
        f"  [bold]{home_flag}.venv/bin/deputy token exchange --client incident-agent --secret incident-agent-dev-secret "
        f'--subject-token "$TOKEN" --audience https://incidents.example --server {issuer}[/bold]'
    )
    console.print(f"  [bold]{home_flag}.venv/bin/deputy audit show[/bold]\n")


@app.command()
def dev(
    home: Optional[Path] = HomeOption,
    port: int = typer.Option(8000, help="Port on 127.0.0.1."),
    reset: bool = typer.Option(False, help="Delete the development data directory first."),
) -> None:
    """Run a development server on 127.0.0.1 with an embedded SQLite store and the dev realm."""
    import shutil

    import uvicorn

    from deputy.http import create_app
    from deputy.runtime import Deputy

    issuer = f"http://127.0.0.1:{port}"
    settings = settings_for(home, issuer=issuer)
    if reset and settings.home.exists():
        shutil.rmtree(settings.home)
    write_config_file(settings.home, {"issuer": issuer})
    deputy = Deputy.open(settings)
    admin = deputy.admin("cli")
    if not deputy.store.realm.list_agents():
        load_realm(admin, read_realm_file(DEV_REALM))
    admin_token = admin_token_for(settings)
    _print_dev_banner(issuer, admin_token, settings.home)
    try:
        uvicorn.run(create_app(deputy, admin_token), host="127.0.0.1", port=port, log_level="info")
    finally:
        deputy.close()


@contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """With several workers, a new private directory (mode 0700 in ``$TMPDIR``) where each writes
    its Prometheus counters and every scrape sums them (docs/operations.md#metrics): named in
    ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so that they inherit it, and removed
    once they have stopped. One worker needs none and gets none."""
    if workers <= 1:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="deputy-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield directory
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(directory, ignore_errors=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, help="Worker processes (one per core is a good start)."),
    home: Optional[Path] = HomeOption,
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Run the server for production: settings from DEPUTY_* environment variables."""
    import uvicorn

    if home is not None:
        os.environ["DEPUTY_HOME"] = str(home.resolve())
    if "DEPUTY_ISSUER" not in os.environ and host in ("127.0.0.1", "localhost"):
        os.environ["DEPUTY_ISSUER"] = f"http://127.0.0.1:{port}"
    settings = settings_for(home)
    # Remember the issuer in the home, so that `deputy` commands run there mint tokens for it.
    write_config_file(settings.home, {"issuer": settings.issuer})
    with open_deputy(home) as deputy:  # create schema and keys once, before workers start
        if settings.admin_token == "":
            admin_token_for(settings)
        console.print(f"Deputy {__version__} serving {deputy.settings.issuer} with {workers} worker(s)")
    with metrics_directory(workers):
        if workers > 1 and reuse_port_supported():
            # One listening socket per worker: the kernel spreads connections (cli/workers.py).
            try:
                supervisor = Workers(host, port, workers, "deputy.http.asgi:app_from_env", log_level)
            except OSError as exc:  # the port is taken, or the address is not ours
                err_console.print(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
                raise SystemExit(1) from None
            code = supervisor.run()
            if code:
                raise SystemExit(code)
            return
        uvicorn.run(
            "deputy.http.asgi:app_from_env", factory=True, host=host, port=port, workers=workers,
            log_level=log_level, access_log=False,
        )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None
