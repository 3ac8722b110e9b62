"""The desk's HTTP face: the part of ServiceNow's Table API an incident agent uses, protected by
Deputy's resource SDK.

- ``GET /api/now/table/incident`` (``sysparm_query``, ``sysparm_limit``, ``sysparm_offset``,
  ``sysparm_fields``) needs ``incidents:read``;
- ``GET /api/now/table/incident/{sys_id}`` needs ``incidents:read``;
- ``PATCH /api/now/table/incident/{sys_id}`` needs ``incidents:write``;
- the RFC 9728 metadata at ``resource.metadata_path``, and ``GET /healthz``.

Answers are ServiceNow's ``{"result": ...}``; errors ``{"error": {"message", "detail"},
"status": "failure"}``, except the resource SDK's own 401/403 refusals (RFC 6750 challenges).
Every Table API request is recorded in the desk's access log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from deputy.demo.desk.access_log import AccessEntry, Withheld
from deputy.demo.desk.errors import (
    BadRequest,
    DeskError,
    InvalidQuery,
    NoRecord,
    NotADeskUser,
    error_body,
)
from deputy.demo.desk.incident_desk import Caller, IncidentDesk
from deputy.demo.desk.query import QueryError, parse_query
from deputy.demo.desk.records import FIELDS, Incident
from deputy.demo.desk.updates import read_update
from deputy.resource import Principal, ResourceError
from deputy.resource.asgi import ASGIApp, ProtectedResource

__all__ = ["DEFAULT_LIMIT", "MAX_BODY", "MAX_LIMIT", "READ_SCOPE", "WRITE_SCOPE", "create_desk_app"]

READ_SCOPE = "incidents:read"
WRITE_SCOPE = "incidents:write"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # larger limits are lowered to this, as ServiceNow caps them
MAX_BODY = 16 * 1024
TABLE = "/api/now/table/incident"

log = logging.getLogger("deputy.demo.desk")


@dataclass
class _Outcome:
    """What a handler did, for the response and for the access log."""

    result: Any
    returned: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    updated: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


class _Failed(Exception):
    """A :class:`DeskError` together with what the ACLs withheld on the way."""

    def __init__(self, error: DeskError, withheld: tuple[Withheld, ...] = ()) -> None:
        super().__init__(error.detail)
        self.error = error
        self.withheld = withheld


Work = Callable[[Request, Caller], Awaitable[_Outcome]]
Answer = Response | ASGIApp  # the resource SDK answers refusals with its own ASGI response


def _printable(text: str, limit: int = 300) -> str:
    """Log-safe text: control characters escaped (no forged log lines), long values cut."""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def _logged_query(request: Request) -> str:
    # Only the Table API's own parameters: anything else (a misplaced access_token, say) is dropped.
    pairs = [f"{k}={v}" for k, v in request.query_params.multi_items() if k.startswith("sysparm_")]
    return _printable("&".join(pairs))


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"{name} is given more than once.")
    return values[0] if values else None


def _count(request: Request, name: str, default: int) -> int:
    text = _single(request, name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise BadRequest(f"{name} must be a non-negative integer.")
    return int(text)


def _fields(request: Request) -> tuple[str, ...] | None:
    """The fields asked for, in order, unknown ones dropped (as ServiceNow does); None: all."""
    text = _single(request, "sysparm_fields")
    if text is None or text.strip() == "":
        return None
    wanted = (name.strip() for name in text.split(","))
    return tuple(dict.fromkeys(name for name in wanted if name in FIELDS))


def _shown(incident: Incident, fields: tuple[str, ...] | None) -> dict[str, str]:
    record = incident.as_record()
    return record if fields is None else {name: record[name] for name in fields}


async def _json_body(request: Request) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadRequest(f"The body is larger than {MAX_BODY} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(f"The body is larger than {MAX_BODY} bytes.")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None


class _DeskApp:
    def __init__(self, desk: IncidentDesk, resource: ProtectedResource, introspect: bool) -> None:
        self.desk = desk
        self.resource = resource
        self.introspect = introspect

    # -- the pipeline every Table API request goes through -------------------------------------

    async def run(self, request: Request, scope: str, work: Work) -> Answer:
        entry: dict[str, Any] = {
            "time": self.desk.now(), "user": "", "chain": (), "method": request.method,
            "path": _printable(request.url.path), "query": _logged_query(request),
        }
        try:
            principal = await self.resource.authenticate(request, (scope,), introspect=self.introspect)
        except ResourceError as exc:
            self.desk.record(AccessEntry(**entry, status=exc.status_code, error=exc.error or "no token"))
            return self.resource.error_response(exc)
        entry.update(user=principal.user, chain=principal.chain)
        try:
            outcome = await work(request, self._caller(principal))
        except _Failed as failed:
            return self._failure(entry, failed.error, failed.withheld)
        except DeskError as error:
            return self._failure(entry, error)
        except Exception:
            log.exception("incident desk: unexpected error on %s %s", request.method, entry["path"])
            return self._failure(entry, DeskError())
        self.desk.record(AccessEntry(
            **entry, status=200, returned=outcome.returned, withheld=outcome.withheld, updated=outcome.updated,
        ))
        return JSONResponse({"result": outcome.result}, headers=outcome.headers)

    def _failure(self, entry: dict[str, Any], error: DeskError, withheld: tuple[Withheld, ...] = ()) -> Response:
        self.desk.record(AccessEntry(**entry, status=error.status_code, withheld=withheld, error=error.message))
        return JSONResponse(error.body(), status_code=error.status_code)

    def _caller(self, principal: Principal) -> Caller:
        # ACLs apply to the token's user; the agent chain is only recorded (RFC 8693 §4.1).
        user = self.desk.user(principal.user)
        if user is None:
            raise NotADeskUser()
        return Caller(user, principal.scopes, principal.chain)

    # -- the endpoints ---------------------------------------------------------------------------

    async def search(self, request: Request, caller: Caller) -> _Outcome:
        try:
            query = parse_query(_single(request, "sysparm_query") or "", FIELDS)
        except QueryError as error:
            raise InvalidQuery(f"sysparm_query: {error}") from None
        limit = min(_count(request, "sysparm_limit", DEFAULT_LIMIT), MAX_LIMIT)
        offset = _count(request, "sysparm_offset", 0)
        fields = _fields(request)
        page = self.desk.search(caller, query, limit=limit, offset=offset)
        return _Outcome(
            [_shown(incident, fields) for incident in page.records],
            returned=tuple(incident.number for incident in page.records),
            withheld=page.withheld,
            headers={"X-Total-Count": str(page.total)},
        )

    async def read(self, request: Request, caller: Caller) -> _Outcome:
        page = self.desk.get(caller, request.path_params["sys_id"])
        if not page.records:
            raise _Failed(NoRecord(), page.withheld)
        incident = page.records[0]
        return _Outcome(_shown(incident, _fields(request)), returned=(incident.number,))

    async def update(self, request: Request, caller: Caller) -> _Outcome:
        update = read_update(await _json_body(request))
        sys_id = request.path_params["sys_id"]
        hidden = self.desk.get(caller, sys_id).withheld
        try:
            incident = self.desk.update(caller, sys_id, update)
        except NoRecord as error:
            raise _Failed(error, hidden) from None
        return _Outcome(incident.as_record(), returned=(incident.number,), updated=update.fields())

    # -- Starlette routes ------------------------------------------------------------------------

    async def incidents(self, request: Request) -> Answer:
        return await self.run(request, READ_SCOPE, self.search)

    async def incident(self, request: Request) -> Answer:
        if request.method == "PATCH":
            return await self.run(request, WRITE_SCOPE, self.update)
        return await self.run(request, READ_SCOPE, self.read)

    async def not_routed(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            message, detail = "Method not Supported", "The incident desk supports GET and PATCH."
        elif status == 404:
            message, detail = "Invalid table", "The incident desk serves /api/now/table/incident only."
        else:
            message, detail = DeskError.message, DeskError.default_detail
        return JSONResponse(error_body(message, detail), status_code=status)


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_desk_app(desk: IncidentDesk, resource: ProtectedResource, *, introspect: bool | None = None) -> Starlette:
    """The desk as a Starlette app, protected by ``resource`` (whose verifier's audience is the
    desk's resource identifier, ``https://incidents.example`` in Deputy's development realm).

    ``introspect``: ask Deputy on every request whether the token is still active (RFC 7662), so
    that a revoked token or a suspended agent is refused at once rather than when the token
    expires. The default is to introspect exactly when the verifier was given ``Introspection``.
    """
    if introspect is None:
        introspect = resource.verifier.introspection is not None
    elif introspect and resource.verifier.introspection is None:
        raise ValueError("introspect=True needs a TokenVerifier configured with introspection")
    api = _DeskApp(desk, resource, introspect)
    return Starlette(
        routes=[
            Route(TABLE, api.incidents, methods=["GET"]),
            Route(TABLE + "/{sys_id}", api.incident, methods=["GET", "PATCH"]),
            Route(resource.metadata_path, resource.metadata_app),
            Route("/healthz", _health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: api.not_routed, Exception: api.not_routed},
    )
