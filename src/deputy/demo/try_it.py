"""What ``deputy demo --keep-running`` prints: where everything is and requests to try by hand."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from deputy.demo.stack import DESK_CLIENT, DemoStack

__all__ = ["print_try_it"]


def print_try_it(console: Console, stack: DemoStack) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("Deputy", f"{stack.issuer}  (admin API: Authorization: Bearer {stack.admin_token})")
    table.add_row("incident desk", f"{stack.desk_url}/api/now/table/incident  (resource https://incidents.example)")
    table.add_row("incident agent", f"{stack.mcp_url}  (MCP, streamable HTTP; tokens for incident-agent)")
    table.add_row("triage agent", f"{stack.agent_url}/triage")
    table.add_row("users", "jane / jane-dev-password (it), bob / bob-dev-password (hr), "
                  "carol / carol-dev-password (security)")
    table.add_row("agents", "incident-agent / incident-agent-dev-secret, triage-agent / triage-agent-dev-secret")
    table.add_row("desk's client", f"{DESK_CLIENT[0]} / {DESK_CLIENT[1]} (introspection)")
    console.print(Panel(table, title="deputy demo: still running (Ctrl-C to stop)", border_style="cyan"))
    admin = f'-H "Authorization: Bearer {stack.admin_token}"'
    console.print("incident-agent is active again. Try, from another terminal:", highlight=False)
    lines = [
        "# Jane's token for the agent (the admin API's stand-in for sign-in)",
        (f"TOKEN=$(curl -s {admin} -H 'Content-Type: application/json' -d '{{\"client_id\": \"incident-agent\"}}' "
         f"{stack.issuer}/admin/users/jane/tokens | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"),
        "# call the agent's query tool over MCP (JSON-RPC, stateless streamable HTTP)",
        (f"curl -s {stack.mcp_url} -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
         "-H 'Accept: application/json, text/event-stream' -d '{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": "
         "\"tools/call\", \"params\": {\"name\": \"query_incidents\", \"arguments\": {\"query\": \"assigned_to=me\", "
         "\"limit\": 5}}}'"),
        "# the same token straight at the desk is refused: it is for the agent, not for the desk",
        f"curl -si {stack.desk_url}/api/now/table/incident -H \"Authorization: Bearer $TOKEN\" | head -1",
        "# what Deputy recorded",
        f"curl -s {admin} '{stack.issuer}/admin/audit?order=asc&limit=20'",
    ]
    for line in lines:
        console.print(f"  [dim]{line}[/dim]" if line.startswith("#") else f"  {line}", highlight=False, soft_wrap=True)
