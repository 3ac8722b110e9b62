"""The console (docs/console.md): server-rendered pages at ``/console`` for the signed-in user.

Signed in through Deputy's own sign-in session (the ``deputy_session`` cookie of
:mod:`deputy.http.signin`); every form carries a CSRF token bound to that cookie; every page is
sent with ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'`` (and no
script at all). Pages:

- **Approvals** — the user's pending backchannel (CIBA) requests: approve or deny.
- **My agents** — the consents (delegation grants) the user gave: withdraw (cascading revocation).
- **Agents** (administrators) — the registry: status, owners, credential age, resources and scopes,
  whom each may act for; create and edit; activate, suspend, retire; rotate the client secret
  (shown once).
- **Audit** (administrators) — filter by user, agent, resource, outcome and time; each event's
  chain as a path user → agent → agent → resource; export as JSON Lines.

Administrators are the members of the group named by the ``console_admin_group`` setting
(default ``deputy-admins``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from deputy.accounts import csrf_token, csrf_valid
from deputy.audit import AuditRecord
from deputy.admin.schema import parse_agent
from deputy.errors import Conflict, DeputyError, InvalidInput, NotFound
from deputy.http.pages import SECURITY_HEADERS, SESSION_COOKIE, page, read_form, redirect
from deputy.protocol.request import FormRequest
from deputy.realm import Agent, AgentStatus, User
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter

BASE = "/console"
CSRF_PURPOSE = "console"
FORM_EXPIRED = "This form has expired or did not come from this page. Please reload the page and try again."
AUDIT_PAGE_LIMIT = 200
STATUS_ACTIONS = {"activate": AgentStatus.ACTIVE, "suspend": AgentStatus.SUSPENDED, "retire": AgentStatus.RETIRED}


@dataclass(frozen=True)
class Viewer:
    """The signed-in user looking at the console."""

    user: User
    cookie: str
    admin: bool

    @property
    def name(self) -> str:
        return self.user.display_name or self.user.username

    @property
    def csrf(self) -> str:
        return csrf_token(self.cookie, CSRF_PURPOSE)


def when(epoch: int | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "just now"


def chain_path(record: AuditRecord) -> list[str]:
    """user → the agents, originating first (``actor_chain`` is current actor first) → resource."""
    event = record.event
    steps: list[str] = []
    if event.subject:
        steps.append(event.subject)
    actors = list(reversed(event.actor_chain)) or ([event.client_id] if event.client_id else [])
    steps.extend(a for a in actors if a != event.subject)
    steps.extend(event.audience)
    return steps


def parse_time(raw: str | None) -> int | None:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (a datetime-local input), read as UTC."""
    if not raw:
        return None
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(raw, pattern).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    return None


def console_routes(deputy: Deputy) -> list[BaseRoute]:
    settings = deputy.settings
    issuer = settings.issuer
    store = deputy.store
    admin_group = settings.console_admin_group

    def viewer(request: Request) -> Viewer | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = deputy.accounts.session(cookie)
        if session is None or cookie is None:
            return None
        user = store.realm.get_user(session.username)
        if user is None:
            return None
        return Viewer(user, cookie, admin_group in user.groups)

    def render(template: str, who: Viewer, section: str, status: int = 200, **context: Any) -> Response:
        return page(
            template, status=status, viewer=who, section=section, csrf_token=who.csrf, base=f"{issuer}{BASE}",
            logout_url=f"{issuer}/logout", logout_csrf=csrf_token(who.cookie, "logout"),
            notice=context.pop("notice", None), **context,
        )

    def refuse(who: Viewer | None, status: int, message: str) -> Response:
        if who is None:
            return page("error.html", status=status, message=message, error="access_denied")
        return render("console/refused.html", who, "", status=status, message=message)

    def signed_in(admin_only: bool = False) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        def wrap(fn: Callable[..., Response]) -> Callable[..., Response]:
            def run(request: Request, form: FormRequest | None = None) -> Response:
                who = viewer(request)
                if who is None:
                    if request.method != "GET":
                        return refuse(None, 403, "You are not signed in. Reload the page to sign in again.")
                    return redirect(f"{issuer}/signin?next={quote(request.url.path)}")
                if admin_only and not who.admin:
                    return refuse(who, 403, "This page is for administrators only.")
                if form is not None and not csrf_valid(who.cookie, CSRF_PURPOSE, form.one("csrf_token")):
                    return refuse(who, 403, FORM_EXPIRED)
                try:
                    return fn(request, who, form) if form is not None else fn(request, who)
                except NotFound as exc:
                    return refuse(who, 404, exc.description)

            return run

        return wrap

    def get(fn: Callable[[Request], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            response: Response = await run_in_threadpool(fn, request)
            return response

        return endpoint

    def post(fn: Callable[[Request, FormRequest], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                form = await read_form(request)
            except DeputyError:
                form = FormRequest({})
            response: Response = await run_in_threadpool(fn, request, form)
            return response

        return endpoint

    def agent_label(client_id: str) -> str:
        agent = store.realm.get_agent(client_id)
        return agent.name if agent is not None and agent.name else client_id

    def resource_label(identifier: str | None) -> str:
        if identifier is None:
            return ""
        resource = store.realm.get_resource(identifier)
        return resource.name if resource is not None and resource.name else identifier

    # -- /console ---------------------------------------------------------------------------------
    async def home(request: Request) -> Response:
        return redirect(f"{issuer}{BASE}/approvals")

    # -- Approvals --------------------------------------------------------------------------------
    @signed_in()
    def _approvals(request: Request, who: Viewer) -> Response:
        rows = []
        for r in deputy.approvals.pending(who.user.username):
            resource = store.realm.get_resource(r.resource)
            needing = set(resource.approval_scopes) if resource is not None else set()
            rows.append({
                "request_id": r.request_id, "agent": agent_label(r.client_id), "client_id": r.client_id,
                "resource": resource_label(r.resource), "identifier": r.resource,
                "scopes": [{"name": s, "approval": s in needing} for s in r.scopes],
                "binding_message": r.binding_message, "asked": when(r.created_at), "expires": when(r.expires_at),
                "action": f"{issuer}{BASE}/approvals/{r.request_id}",
            })
        done = request.query_params.get("done")
        notice = {"approved": "Approved. The agent can now collect its token.", "denied": "Denied."}.get(done or "")
        return render("console/approvals.html", who, "approvals", requests=rows, notice=notice)

    @signed_in()
    def _decide(request: Request, who: Viewer, form: FormRequest) -> Response:
        decision = form.one("decision")
        if decision not in ("approve", "deny"):
            return refuse(who, 400, "Choose Approve or Deny.")
        approve = decision == "approve"
        deputy.approvals.decide(str(request.path_params["request_id"]), who.user.username, approve, via="console")
        return redirect(f"{issuer}{BASE}/approvals?done={'approved' if approve else 'denied'}")

    # -- My agents --------------------------------------------------------------------------------
    @signed_in()
    def _my_agents(request: Request, who: Viewer) -> Response:
        now = store.clock.now()
        rows = []
        for c in store.consents.list_consents(who.user.username):
            if not c.live(now):
                continue
            rows.append({
                "consent_id": c.consent_id, "agent": agent_label(c.client_id), "client_id": c.client_id,
                "resource": resource_label(c.resource) if c.resource else None, "scopes": list(c.scopes),
                "since": when(c.created_at), "until": when(c.expires_at) if c.expires_at else None,
                "action": f"{issuer}{BASE}/my-agents/{c.consent_id}/withdraw",
            })
        notice = "Withdrawn. Every token it covered has stopped working." if request.query_params.get("withdrawn") else None
        return render("console/my_agents.html", who, "my-agents", grants=rows, notice=notice)

    @signed_in()
    def _withdraw(request: Request, who: Viewer, form: FormRequest) -> Response:
        deputy.admin(f"user:{who.user.username}").withdraw_consent(
            str(request.path_params["consent_id"]), by_user=who.user.username
        )
        return redirect(f"{issuer}{BASE}/my-agents?withdrawn=1")

    # -- Agents (administrators) ---------------------------------------------------------------------
    def agent_row(agent: Agent, now: int) -> dict[str, Any]:
        created = [s.created_at for s in agent.secrets] + [k.created_at for k in agent.keys]
        return {
            "client_id": agent.client_id, "name": agent.name, "status": agent.status.value,
            "owners": list(agent.owners),
            "credentials": f"{len(agent.secrets)} secret(s), {len(agent.keys)} key(s)",
            "credential_age": age(now - max(created)) if created else "no credentials",
            "oldest_credential": age(now - min(created)) if len(created) > 1 else None,
            "resources": [{"resource": resource_label(g.resource), "scopes": list(g.scopes)} for g in agent.resource_grants],
            "acts_for": ["anyone" if u == "*" else u for u in agent.subject_users] + [f"group {g}" for g in agent.subject_groups],
            "may_impersonate": agent.may_impersonate,
            "status_action": f"{issuer}{BASE}/agents/{quote(agent.client_id, safe='')}/status",
            "rotate_action": f"{issuer}{BASE}/agents/{quote(agent.client_id, safe='')}/rotate",
            "actions": [a for a, s in STATUS_ACTIONS.items() if s is not agent.status],
            "edit_url": f"{issuer}{BASE}/agents/{quote(agent.client_id, safe='')}/edit",
        }

    @signed_in(admin_only=True)
    def _agents(request: Request, who: Viewer) -> Response:
        now = store.clock.now()
        rows = [agent_row(a, now) for a in store.realm.list_agents()]
        notice = request.query_params.get("notice")
        messages = {"status": "Status changed.", "saved": "Agent saved."}
        return render("console/agents.html", who, "agents", agents=rows, notice=messages.get(notice or ""))

    @signed_in(admin_only=True)
    def _agent_status(request: Request, who: Viewer, form: FormRequest) -> Response:
        action = form.one("action") or ""
        status = STATUS_ACTIONS.get(action)
        if status is None:
            return refuse(who, 400, "Choose activate, suspend or retire.")
        client_id = str(request.path_params["client_id"])
        deputy.admin(f"console:{who.user.username}").set_agent_status(client_id, status)
        return redirect(f"{issuer}{BASE}/agents?notice=status")

    @signed_in(admin_only=True)
    def _agent_rotate(request: Request, who: Viewer, form: FormRequest) -> Response:
        client_id = str(request.path_params["client_id"])
        issued = deputy.admin(f"console:{who.user.username}").new_secret(client_id, replace_existing=True)
        # Shown once, on this response only (no-store); never stored in clear, never logged.
        return render(
            "console/secret.html", who, "agents", client_id=client_id, secret_id=issued.secret_id,
            secret=issued.secret.reveal(),
        )

    # -- create and edit (administrators) -------------------------------------------------------------
    def agent_form_values(agent: Agent | None) -> dict[str, str]:
        if agent is None:
            return {"client_id": "", "name": "", "description": "", "owners": "", "subject_users": "",
                    "subject_groups": "", "resources": "", "may_impersonate": "", "status": "staged"}
        return {
            "client_id": agent.client_id, "name": agent.name, "description": agent.description,
            "owners": " ".join(agent.owners), "subject_users": " ".join(agent.subject_users),
            "subject_groups": " ".join(agent.subject_groups),
            "resources": "\n".join(f"{g.resource} {' '.join(g.scopes)}" for g in agent.resource_grants),
            "may_impersonate": "on" if agent.may_impersonate else "", "status": agent.status.value,
        }

    def agent_from_form(form: FormRequest, current: Agent | None) -> tuple[Agent, dict[str, str]]:
        """Raises :class:`InvalidInput` naming the field (shown on the form)."""
        fields = ("client_id", "name", "description", "owners", "subject_users", "subject_groups", "resources",
                  "may_impersonate", "status")
        values = {name: (form.one(name) or "")[:4000] for name in fields}
        if current is not None:
            values["client_id"] = current.client_id  # the client_id never changes
        grants = []
        for number, line in enumerate(values["resources"].splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise InvalidInput("invalid_input", "resources", public=f"Resources, line {number}: give the resource, then its scopes.")
            grants.append({"resource": parts[0], "scopes": parts[1:]})
        data: dict[str, Any] = {
            "client_id": values["client_id"].strip(), "name": values["name"].strip(),
            "description": values["description"].strip(), "owners": values["owners"].split(),
            "subject_users": values["subject_users"].split(), "subject_groups": values["subject_groups"].split(),
            "resources": grants, "may_impersonate": values["may_impersonate"] == "on",
            "status": values["status"] if current is None else current.status.value,
        }
        if current is not None:  # fields the form does not show are kept
            data.update(audiences=list(current.audiences), redirect_uris=list(current.redirect_uris),
                        public_client=current.public_client)
        return parse_agent(data), values

    def agent_form(who: Viewer, values: dict[str, str], *, editing: bool, error: str | None = None,
                   status: int = 200) -> Response:
        target = f"{BASE}/agents/{quote(values['client_id'], safe='')}/edit" if editing else f"{BASE}/agents/new"
        return render("console/agent_form.html", who, "agents", status=status, values=values, editing=editing,
                      error=error, action=f"{issuer}{target}", statuses=["staged", "active"])

    @signed_in(admin_only=True)
    def _agent_new(request: Request, who: Viewer) -> Response:
        return agent_form(who, agent_form_values(None), editing=False)

    @signed_in(admin_only=True)
    def _agent_create(request: Request, who: Viewer, form: FormRequest) -> Response:
        values = agent_form_values(None)
        try:
            agent, values = agent_from_form(form, None)
            if agent.status not in (AgentStatus.STAGED, AgentStatus.ACTIVE):
                raise InvalidInput("invalid_input", "status", public="A new agent is staged or active.")
            issued = deputy.admin(f"console:{who.user.username}").create_agent(agent)
        except (InvalidInput, Conflict) as exc:
            values = {**values, **{k: (form.one(k) or "") for k in values}}
            return agent_form(who, values, editing=False, error=exc.description, status=400)
        if issued is None:  # pragma: no cover - create_agent always issues a secret here
            return redirect(f"{issuer}{BASE}/agents")
        return render("console/secret.html", who, "agents", client_id=agent.client_id, secret_id=issued.secret_id,
                      secret=issued.secret.reveal(), created=True)

    @signed_in(admin_only=True)
    def _agent_edit(request: Request, who: Viewer) -> Response:
        agent = deputy.admin(f"console:{who.user.username}").get_agent(str(request.path_params["client_id"]))
        return agent_form(who, agent_form_values(agent), editing=True)

    @signed_in(admin_only=True)
    def _agent_update(request: Request, who: Viewer, form: FormRequest) -> Response:
        admin = deputy.admin(f"console:{who.user.username}")
        current = admin.get_agent(str(request.path_params["client_id"]))
        try:
            agent, _ = agent_from_form(form, current)
            admin.update_agent(agent)
        except InvalidInput as exc:
            values = {**agent_form_values(current), **{k: (form.one(k) or "") for k in agent_form_values(current)},
                      "client_id": current.client_id}
            return agent_form(who, values, editing=True, error=exc.description, status=400)
        return redirect(f"{issuer}{BASE}/agents?notice=saved")

    # -- Audit (administrators) ---------------------------------------------------------------------
    def audit_filter(request: Request, limit: int | None) -> tuple[AuditFilter, dict[str, str]]:
        q = request.query_params
        values = {k: (q.get(k) or "").strip()[:200] for k in ("user", "agent", "resource", "outcome", "since", "until")}
        outcome = values["outcome"] if values["outcome"] in ("success", "failure") else None
        flt = AuditFilter(
            subject=values["user"] or None, agent=values["agent"] or None, audience=values["resource"] or None,
            outcome=outcome, since=parse_time(values["since"]), until=parse_time(values["until"]),
            limit=limit, newest_first=True,
        )
        return flt, values

    @signed_in(admin_only=True)
    def _audit(request: Request, who: Viewer) -> Response:
        flt, values = audit_filter(request, AUDIT_PAGE_LIMIT)
        rows = []
        for record in store.audit.records(flt):
            event = record.event
            rows.append({
                "seq": record.seq, "time": when(record.time), "type": event.type, "outcome": event.outcome,
                "path": chain_path(record), "scopes": list(event.scope_granted or event.scope_requested or ()),
                "reason": event.reason, "jti": event.jti,
            })
        query = urlencode({k: v for k, v in values.items() if v})
        return render(
            "console/audit.html", who, "audit", events=rows, filters=values, limit=AUDIT_PAGE_LIMIT,
            export_url=f"{issuer}{BASE}/audit/export" + (f"?{query}" if query else ""),
        )

    @signed_in(admin_only=True)
    def _audit_export(request: Request, who: Viewer) -> Response:
        flt, _ = audit_filter(request, None)
        records = list(store.audit.records(flt))

        def lines() -> Iterator[bytes]:
            for r in records:
                item = {"seq": r.seq, "id": r.event_id, "time": r.time, "prev_hash": r.prev_hash, "hash": r.hash,
                        **r.event.to_dict()}
                yield (json.dumps(item, sort_keys=True, separators=(",", ":")) + "\n").encode()

        headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="deputy-audit.jsonl"'}
        return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)

    return [
        Route(BASE, home, methods=["GET"]),
        Route(f"{BASE}/approvals", get(_approvals), methods=["GET"]),
        Route(f"{BASE}/approvals/{{request_id}}", post(_decide), methods=["POST"]),
        Route(f"{BASE}/my-agents", get(_my_agents), methods=["GET"]),
        Route(f"{BASE}/my-agents/{{consent_id}}/withdraw", post(_withdraw), methods=["POST"]),
        Route(f"{BASE}/agents", get(_agents), methods=["GET"]),
        Route(f"{BASE}/agents/new", get(_agent_new), methods=["GET"]),
        Route(f"{BASE}/agents/new", post(_agent_create), methods=["POST"]),
        Route(f"{BASE}/agents/{{client_id}}/edit", get(_agent_edit), methods=["GET"]),
        Route(f"{BASE}/agents/{{client_id}}/edit", post(_agent_update), methods=["POST"]),
        Route(f"{BASE}/agents/{{client_id}}/status", post(_agent_status), methods=["POST"]),
        Route(f"{BASE}/agents/{{client_id}}/rotate", post(_agent_rotate), methods=["POST"]),
        Route(f"{BASE}/audit", get(_audit), methods=["GET"]),
        Route(f"{BASE}/audit/export", get(_audit_export), methods=["GET"]),
    ]


__all__ = ["console_routes"]
