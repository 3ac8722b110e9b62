"""Deterministic cost of one token exchange, in process: SQL statements and transactions per
exchange (counted with SQLite's trace callback, or from libpq's protocol trace on PostgreSQL, which
also gives the round trips) and CPU time per stage (cProfile). No HTTP, no load generator, so the
numbers hold on a busy machine. See benchmarks/README.md.

    .venv/bin/python benchmarks/profile_exchange.py [--exchanges 500] [--auth basic|jwt] [--alg ES256|RS256]
        [--database URL] [--asgi]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import pstats
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import event

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.config import Settings
from deputy.protocol.request import FormRequest
from deputy.realm import AgentKey
from deputy.runtime import Deputy

ROOT = Path(__file__).resolve().parents[1]
DEV_REALM = ROOT / "src" / "deputy" / "admin" / "dev_realm.toml"
ISSUER = "http://127.0.0.1:8000"
CLIENT_ID, CLIENT_SECRET = "incident-agent", "incident-agent-dev-secret"
AUDIENCE = "https://incidents.example"

# (label, module suffix, function name): cumulative time of each, per exchange.
STAGES = [
    ("whole exchange", "protocol/token_endpoint.py", "handle"),
    ("client authentication", "client_auth/base.py", "authenticate"),
    ("  secret check", "client_auth/secret.py", "_check_secret"),
    ("  private_key_jwt", "client_auth/private_key_jwt.py", "authenticate"),
    ("  replay mark_used", "storage/replay_store.py", "mark_used"),
    ("subject token (all)", "grants/subject.py", "read_own_subject"),
    ("  signature verify", "jose/verify.py", "verify_jwt"),
    ("  lineage read", "storage/token_store.py", "ancestry"),
    ("realm: get_agent", "", "get_agent"),
    ("realm: get_user", "", "get_user"),
    ("realm: get_resource", "", "get_resource"),
    ("realm: user_entitlements", "", "user_entitlements"),
    ("policy decide", "policy/delegation.py", "decide"),
    ("sign", "jose/keys.py", "sign"),
    ("lineage + audit write", "storage/token_store.py", "record_issuance"),
    ("  audit append", "storage/audit_store.py", "append_many_in"),
    ("  audit append (SQLite, raw)", "storage/audit_store.py", "append_many_sqlite"),
    ("  audit append (PostgreSQL, raw)", "storage/audit_store.py", "append_many_pg"),
    ("  transaction commit", "sqlalchemy/engine/base.py", "commit"),  # the raw paths' COMMIT is not here
]


def pg_trace_counts(trace: str) -> tuple[Counter[str], int, int]:
    """Statements by verb, transactions and round trips from a libpq trace (``PQtrace``) of the
    client's connections. Statements: every ``Execute`` (extended protocol, named by the ``Parse``
    of the statement its ``Bind`` uses) and ``Query`` (simple protocol; ``;`` is the pool's
    pre-ping, counted as PING). A round trip: a run of client messages answered by the server
    before the client sends again (pipelined statements share one)."""
    statements: Counter[str] = Counter()
    parsed: dict[str, str] = {}
    bound = ""
    round_trips = 0
    sending = False
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        direction, message, rest = parts[0], parts[2], parts[3] if len(parts) > 3 else ""
        if direction == "B":
            round_trips += sending
            sending = False
            continue
        sending = True
        fields = rest.strip().split('"')  # ' "name" "text" ...'
        if message == "Parse" and len(fields) >= 4:
            parsed[fields[1]] = (fields[3].split(None, 1) or ["?"])[0].upper()
        elif message == "Bind" and len(fields) >= 4:
            bound = parsed.get(fields[3], "?")
        elif message == "Execute":
            statements[bound] += 1
        elif message == "Query" and len(fields) >= 2:
            statements[(fields[1].split(None, 1) or ["?"])[0].upper().rstrip(";") or "PING"] += 1
    return statements, statements["BEGIN"], round_trips


def setup(database: str | None, alg: str, home: Path) -> Deputy:
    settings = Settings(issuer=ISSUER, home=home, admin_token="bench-admin-token-0123456789",
                        database_url=database or "")
    deputy = Deputy.open(settings)
    admin = deputy.admin("bench")
    if not deputy.store.realm.list_agents():
        load_realm(admin, read_realm_file(DEV_REALM))
    if alg != "ES256":
        resource = deputy.store.realm.get_resource(AUDIENCE)
        assert resource is not None
        from dataclasses import replace
        admin.put_resource(replace(resource, signing_alg=alg))
    return deputy


def client_key(deputy: Deputy) -> ECKey:
    key = ECKey.generate_key("P-256", parameters={"kid": "bench-" + uuid.uuid4().hex[:8], "alg": "ES256"},
                             private=True)
    deputy.admin("bench").add_key(CLIENT_ID, key.as_dict(private=False))
    return key


def requests(subject_token: str, auth: str, key: ECKey | None, count: int) -> list[FormRequest]:
    params = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": subject_token,
              "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "audience": AUDIENCE}
    out = []
    for _ in range(count):
        if auth == "basic":
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            out.append(FormRequest.from_pairs(list(params.items()), f"Basic {basic}"))
        else:
            assert key is not None
            now = int(time.time())
            assertion = jwt.encode({"alg": "ES256", "kid": key.kid},
                                   {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": ISSUER, "exp": now + 120,
                                    "iat": now, "jti": uuid.uuid4().hex}, key)
            pairs = [*params.items(), ("client_assertion_type",
                                       "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                     ("client_assertion", assertion)]
            out.append(FormRequest.from_pairs(pairs))
    return out


async def asgi_call(app: Any, request: FormRequest) -> int:
    """One POST /token through the ASGI app (no server, no socket)."""
    body = urllib.parse.urlencode([(k, v) for k, vs in request.params.items() for v in vs]).encode()
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())]
    if request.authorization:
        headers.append((b"authorization", request.authorization.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/token", "raw_path": b"/token", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=500)
    parser.add_argument("--auth", choices=["basic", "jwt"], default="basic")
    parser.add_argument("--alg", choices=["ES256", "RS256"], default="ES256")
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in a temporary home)")
    parser.add_argument("--asgi", action="store_true", help="through the Starlette app (ASGI), not the pipeline")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions by own time")
    parser.add_argument("--threads", type=int, default=1,
                        help="count statements/transactions with this many concurrent exchanges (group commit)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="deputy-profile-") as tmp:
        deputy = setup(args.database, args.alg, Path(tmp) / "home")
        key = client_key(deputy) if args.auth == "jwt" else None
        subject = deputy.admin("bench").issue_user_token("jane", CLIENT_ID, ["incidents:read", "incidents:write"])
        warm = requests(subject, args.auth, key, 20)
        batch = requests(subject, args.auth, key, args.exchanges)
        app = None
        if args.asgi:
            from deputy.http.app import create_app
            app = create_app(deputy, "bench-admin-token-0123456789")

        async def run_asgi(reqs: list[FormRequest]) -> None:
            for req in reqs:
                if (status := await asgi_call(app, req)) != 200:
                    raise SystemExit(f"exchange failed: {status}")

        def run(reqs: list[FormRequest]) -> None:
            if app is not None:
                asyncio.run(run_asgi(reqs))  # one event loop for the batch, as in the server
                return
            for req in reqs:
                deputy.token.handle(req)

        run(warm)
        statements: Counter[str] = Counter()
        transactions = 0

        def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            statements[statement.split(None, 1)[0].upper()] += 1

        def on_begin(conn: Any) -> None:
            nonlocal transactions
            transactions += 1

        engine = deputy.store.db.engine
        sqlite = deputy.store.db.is_sqlite

        def on_sqlite_statement(statement: str) -> None:  # every statement the driver runs
            nonlocal transactions
            verb = statement.split(None, 1)[0].upper()
            statements[verb] += 1
            transactions += verb == "BEGIN"

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.set_trace_callback(on_sqlite_statement)

        trace_files: list[Any] = []  # one per connection, so that round trips stay apart

        def on_pg_connect(dbapi_connection: Any, _record: Any) -> None:
            from psycopg import pq

            trace_files.append(tempfile.TemporaryFile("w+"))  # noqa: SIM115 - closed once read
            dbapi_connection.pgconn.trace(trace_files[-1].fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        # The hot path runs raw DBAPI statements that SQLAlchemy's events do not see: count them
        # with the driver's trace (SQLite's callback, libpq's protocol trace) on fresh connections.
        if sqlite:
            event.listen(engine, "connect", on_connect)
        elif engine.dialect.driver == "psycopg":
            event.listen(engine, "connect", on_pg_connect)
        else:
            event.listen(engine, "before_cursor_execute", on_execute)
            event.listen(engine, "begin", on_begin)
        engine.dispose()
        counted = 50 * args.threads
        if args.threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(deputy.token.handle, requests(subject, args.auth, key, counted)))
        else:
            run(requests(subject, args.auth, key, counted))
        round_trips = 0
        if sqlite:
            event.remove(engine, "connect", on_connect)
        elif engine.dialect.driver == "psycopg":
            event.remove(engine, "connect", on_pg_connect)
            engine.dispose()  # closes the traced connections (and flushes their traces)
            for trace_file in trace_files:
                trace_file.seek(0)
                counts, begun, trips = pg_trace_counts(trace_file.read())
                statements += counts
                transactions += begun
                round_trips += trips
                trace_file.close()
        else:
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "begin", on_begin)
        engine.dispose()

        profiler = cProfile.Profile()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        profiler.enable()
        run(batch)
        profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        unprofiled = requests(subject, args.auth, key, args.exchanges)
        cpu1 = time.process_time()
        run(unprofiled)
        cpu_plain = time.process_time() - cpu1
        deputy.close()

    n = args.exchanges
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    print(f"database   {args.database or 'sqlite (temporary file)'}; auth {args.auth}; alg {args.alg};"
          f" {'ASGI app' if args.asgi else 'protocol pipeline'}")
    counted = 50 * args.threads
    print(f"statements per exchange  {sum(statements.values()) / counted:.2f}  "
          + ", ".join(f"{k} {v / counted:.2f}" for k, v in sorted(statements.items()))
          + f"  ({args.threads} concurrent)")
    print(f"transactions per exchange {transactions / counted:.2f}")
    if round_trips:
        print(f"round trips per exchange  {round_trips / counted:.2f}  (libpq trace; pre-ping included)")
    print(f"CPU per exchange, no profiler  {cpu_plain / n * 1000:.3f} ms")
    print(f"CPU per exchange, profiled     {cpu / n * 1000:.3f} ms (wall {wall / n * 1000:.3f} ms)")
    print("stage (cumulative, profiled, ms per exchange):")
    result: dict[str, float] = {}
    for label, suffix, name in STAGES:
        total = sum(v[3] for (file, _, func), v in raw.items() if func == name and file.endswith(suffix)
                    and (suffix or "storage/" in file or "realm" in file))
        result[label.strip()] = round(total / n * 1000, 3)
        print(f"  {label:<28} {total / n * 1000:8.3f}")
    sqla = sum(v[2] for (file, _, _), v in raw.items() if "sqlalchemy" in file)
    print(f"  {'(own time in sqlalchemy)':<28} {sqla / n * 1000:8.3f}")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)
    print(json.dumps({"statements": sum(statements.values()) / counted, "transactions": transactions / counted,
                      "round_trips": round_trips / counted,
                      "cpu_ms": round(cpu_plain / n * 1000, 3), "stages_ms": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
