"""``deputy demo``: seed 000's story, played on one machine in a few seconds.

Jane and Bob sign in to the incident agent at Deputy and ask it the same question over MCP; the
agent calls the incident desk *as each of them* with tokens Deputy exchanged (RFC 8693), so the
desk's own ACLs decide, and its access log names what it held back. Then: a delegated token
decoded, a second agent making a nested ``act``, the agent suspended and refused, and Deputy's
audit trail of it all. Everything runs on 127.0.0.1 and is gone when the story ends (unless
``keep_running``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from deputy.agent import UserToken
from deputy.demo.agent.brain import Answer, Brain, BrainError, Planner
from deputy.demo.agent.brokers import DESK
from deputy.demo.agent.host import AgentRefused, ask
from deputy.demo.narration import Narrator, jwt_claims
from deputy.demo.signin import SignInFailed, sign_in
from deputy.demo.stack import AGENT_CLIENT, PASSWORDS, REALM_LOADER, REDIRECT_URI, DemoStack
from deputy.demo.try_it import print_try_it

__all__ = ["QUESTION", "DemoOptions", "StoryFailed", "run_demo"]

QUESTION = "Show me 5 incidents assigned to me"
TRIAGE_QUESTION = "Triage my incidents"
CLAIMS = ("iss", "sub", "act", "aud", "client_id", "scope", "exp", "jti")


class StoryFailed(Exception):
    """A step of the story did not happen as it should; ``str()`` says which."""


@dataclass
class DemoOptions:
    brain: Brain = field(default_factory=Planner)
    keep_running: bool = False
    console: Console = field(default_factory=Console)
    # Called when the servers are up, to wait for Ctrl-C (tests replace it).
    wait: Callable[[], object] = field(default=lambda: threading.Event().wait())


def run_demo(options: DemoOptions) -> int:
    """Start everything, play the story, stop everything; 0 when the story ran as it should."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="deputy-demo-"))
    try:
        stack = DemoStack.start(workdir / "home")
        try:
            try:
                Story(stack, options.brain, Narrator(options.console)).play()
            except (StoryFailed, SignInFailed, AgentRefused, BrainError) as exc:
                options.console.print(f"[bold red]The demo failed:[/bold red] {exc}", highlight=False)
                return 1
            options.console.print(f"\n[bold green]The story took {time.monotonic() - started:.1f} s.[/bold green]")
            if options.keep_running:
                _reactivate(stack)
                print_try_it(options.console, stack)
                try:
                    options.wait()
                except KeyboardInterrupt:
                    options.console.print("stopping")
        finally:
            stack.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    options.console.print("Deputy, the desk and the agent are stopped; the temporary store is deleted.")
    return 0


class Story:
    def __init__(self, stack: DemoStack, brain: Brain, narrator: Narrator) -> None:
        self.stack = stack
        self.brain = brain
        self.n = narrator
        self.tokens: dict[str, str] = {}
        self.incidents = {i.number: i for i in stack.desk.incidents()}

    def play(self) -> None:
        self.introduce()
        self.ask_as("jane")
        self.ask_as("bob")
        self.decode_delegated()
        self.nested_chain()
        self.suspend()
        self.audit_trail()

    # -- chapters ----------------------------------------------------------------------------------

    def introduce(self) -> None:
        s = self.stack
        self.n.title("Three servers on 127.0.0.1")
        self.n.say(f"  Deputy (token service)     {s.issuer}")
        self.n.say(f"  incident desk (ServiceNow Table API subset, per-user ACLs)  {s.desk_url}  "
                   "resource https://incidents.example")
        self.n.say(f"  incident agent (MCP)       {s.mcp_url}  with triage-agent at {s.agent_url}/triage")
        self.n.say(f"  the agent's brain: {self.brain.name}")

    def ask_as(self, username: str) -> None:
        self.n.title(f"{username.capitalize()} signs in and asks")
        self.sign_in(username)
        self.ask(username, QUESTION)
        entry = self._last_entry(username)
        self.n.hidden(username.capitalize(), entry, self.incidents)

    def decode_delegated(self) -> None:
        self.n.title("What reached the desk: a delegated token, not Jane's")
        token = self.stack.agent.broker.get_token(DESK, user_token=self._verified("jane"))
        self.n.say("  Jane's own token is for the agent (aud incident-agent); the agent exchanged it at "
                   "Deputy (RFC 8693) for this one:")
        self.n.claims(jwt_claims(token.value), CLAIMS)
        self.n.say("  sub = the user, act.sub = the agent acting for her; scope = what both may do (no hr:read).")

    def nested_chain(self) -> None:
        self.n.title("A second agent: incident-agent hands the work to triage-agent")
        self.ask("jane", TRIAGE_QUESTION)
        self.n.logged(self._last_entry("jane"))
        token = self.stack.agent.triage_broker.get_token(DESK, user_token=self._verified("jane"))
        claims = jwt_claims(token.value)
        self.n.say("  the token triage-agent presented: act is nested (current actor first):")
        self.n.claims(claims, ("sub", "act", "scope"))

    def suspend(self) -> None:
        self.n.title("The agent is suspended")
        response = self._admin("POST", "/admin/agents/incident-agent/status", json={"status": "suspended"})
        self.n.say(f"  admin API: incident-agent → {response['status']}; Deputy revoked "
                   f"{response['revoked_tokens']} live token(s) it acted in.")
        answer = self.ask("jane", QUESTION)
        if not any(call.error for call in answer.calls):
            raise StoryFailed("the suspended agent was not refused")
        self.n.logged(self.stack.desk.access_log()[-1])
        refusals = self._admin("GET", "/admin/audit", params={"type": "token.refused", "agent": "incident-agent"})
        if refusals:
            last = refusals[0]  # newest first
            self.n.say(f"  Deputy's audit: token.refused for client {last.get('client_id')}: "
                       f"error {last.get('error')}, reason [bold]{last.get('reason')}[/bold]")

    def audit_trail(self) -> None:
        self.n.title("Deputy's audit trail of the run (hash-chained)")
        events = self._admin("GET", "/admin/audit", params={"order": "asc", "limit": "1000"})
        shown = [e for e in events if e.get("admin") != REALM_LOADER]  # the run, not the realm's setup
        self.n.audit(shown)
        verified = self._admin("GET", "/admin/audit/verify")
        self.n.say(f"  {verified['records']} records, chain {'intact' if verified['intact'] else 'BROKEN'}.")

    # -- steps -------------------------------------------------------------------------------------

    def sign_in(self, username: str) -> None:
        signed = sign_in(self.stack.issuer, username, PASSWORDS[username], client_id=AGENT_CLIENT[0],
                         client_secret=AGENT_CLIENT[1], redirect_uri=REDIRECT_URI)
        self.tokens[username] = signed.access_token
        claims = jwt_claims(signed.access_token)
        self.n.say(f"  {username} signed in at Deputy (authorization code + PKCE, password form, consent): "
                   f"access token sub={claims['sub']} aud={claims['aud']} scope={claims.get('scope', '')!r}")

    def ask(self, username: str, question: str) -> Answer:
        answer = asyncio.run(ask(self.stack.mcp_url, self.tokens[username], question, self.brain))
        self.n.answer(username.capitalize(), question, answer)
        return answer

    def _verified(self, username: str) -> UserToken:
        token = self.tokens[username]
        return UserToken(token, issuer=self.stack.issuer, subject=str(jwt_claims(token)["sub"]))

    def _last_entry(self, username: str) -> Any:
        entries = [e for e in self.stack.desk.access_log() if e.user == username]
        if not entries:
            raise StoryFailed(f"the desk logged no request for {username}")
        return entries[-1]

    def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.stack.issuer}{path}", timeout=10,
                                 headers={"Authorization": f"Bearer {self.stack.admin_token}"}, **kwargs)
        response.raise_for_status()
        return response.json()


def _reactivate(stack: DemoStack) -> None:
    """After the story, so that a person can try their own requests."""
    httpx.post(f"{stack.issuer}/admin/agents/incident-agent/status", json={"status": "active"}, timeout=10,
               headers={"Authorization": f"Bearer {stack.admin_token}"}).raise_for_status()
