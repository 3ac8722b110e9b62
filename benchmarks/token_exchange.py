"""Token-exchange benchmark: RFC 8693 exchanges per second against ``deputy serve``.

Sets up a throw-away home with the development realm, starts the production server with one
worker per core, drives POST /token from a separate process (wrk, or a Python fallback; back to
back, or at a fixed ``--rate`` with the schedule's lateness reported), then checks that the audit trail is intact and recorded every exchange. Variants: ``--auth jwt``
(private_key_jwt, a fresh assertion per request), ``--alg RS256`` (the resource's tokens signed
with RS256), ``--database postgresql+psycopg://...`` (a throw-away schema). Reports the resident
memory of every server process after the run. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEPUTY = shutil.which("deputy", path=str(Path(sys.executable).parent)) or str(HERE.parent / ".venv/bin/deputy")
CLIENT_ID, CLIENT_SECRET = "incident-agent", "incident-agent-dev-secret"
AUDIENCE = "https://incidents.example"
GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
LOG_PROBLEM = re.compile(r"Traceback|Exception|ERROR|CRITICAL|WARNING|died|locked|busy", re.IGNORECASE)


@dataclass
class LoadResult:
    loadgen: str
    seconds: float
    requests: int  # completed HTTP responses, any status
    non_200: int
    conn_errors: int  # connect/read/write errors and timeouts: no response at all
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)  # non-200 responses by status
    # Fixed-rate runs only (None otherwise): how well the load generator kept its schedule.
    latency_from: str = "send"  # "send" (wrk: the wait for a late slot is not in p50/p99) or "due"
    sent: int | None = None  # requests sent on a schedule slot
    late: int | None = None  # of those, sent more than 1 ms after their slot was due
    late_no_conn: int | None = None  # slots that found no free connection until > 1 ms after due
    max_late_ms: float | None = None
    total_late_ms: float | None = None

    @property
    def ok(self) -> int:
        return self.requests - self.non_200


# ---------------------------------------------------------------- set-up and the server

def deputy_env(home: Path, issuer: str) -> dict[str, str]:
    """The inherited environment minus any DEPUTY_* settings, plus this run's home and issuer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPUTY_")}
    return env | {"DEPUTY_HOME": str(home), "DEPUTY_ISSUER": issuer, "COLUMNS": "200"}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DEPUTY, *args], check=False, env=env, capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], port: int, workers: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``deputy serve`` in its own process group; always stopped (TERM, then KILL) on exit."""
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen([DEPUTY, "serve", "--workers", str(workers), "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy after 60 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group we created: supervisor and workers
            proc.wait()


def exchange_request(subject_token: str) -> tuple[bytes, dict[str, str]]:
    body = urllib.parse.urlencode({"grant_type": GRANT, "subject_token": subject_token,
                                   "subject_token_type": ACCESS_TOKEN, "audience": AUDIENCE})
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}


def jwt_bodies(subject_token: str, key_file: Path, issuer: str, count: int) -> list[bytes]:
    """``count`` exchange bodies, each with its own private_key_jwt assertion (a ``jti`` is
    accepted once, so no body may be sent twice)."""
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.import_key(json.loads(key_file.read_text()))
    now = int(time.time())
    header = {"alg": "ES256", "kid": key.kid}
    bodies = []
    for _ in range(count):
        assertion = jwt.encode(header, {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": issuer, "iat": now,
                                        "exp": now + 590, "jti": os.urandom(12).hex()}, key)
        bodies.append(urllib.parse.urlencode({
            "grant_type": GRANT, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN,
            "audience": AUDIENCE, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}).encode())
    return bodies


# Run with the project's Python and the run's DEPUTY_* environment, before the server starts.
PREPARE = """
import json, sys
from dataclasses import replace
from pathlib import Path
from joserfc.jwk import ECKey
from deputy.config import Settings
from deputy.runtime import Deputy

alg, key_file = sys.argv[1], sys.argv[2]
deputy = Deputy.open(Settings.from_env())
admin = deputy.admin("benchmark")
if alg != "ES256":
    resource = deputy.store.realm.get_resource("https://incidents.example")
    admin.put_resource(replace(resource, signing_alg=alg))
if key_file:
    key = ECKey.generate_key("P-256", parameters={"kid": "benchmark", "alg": "ES256"}, private=True)
    admin.add_key("incident-agent", key.as_dict(private=False))
    Path(key_file).write_text(json.dumps(key.as_dict(private=True)))
deputy.close()
"""


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The processes serving requests: uvicorn's workers, or the server itself."""
    pids = [server.pid]
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True, text=True,
                              check=False).stdout.split()
    workers = []  # uvicorn's workers are multiprocessing spawns; skip its resource tracker
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(int(child))
    return workers or pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids`` (from /proc; 0 where unreadable)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def worker_memory(pids: list[int]) -> dict[int, float]:
    """Resident MiB of each of ``pids``."""
    rss: dict[int, float] = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss[pid] = int(line.split()[1]) / 1024
        except OSError:
            pass
    return rss


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server of ``url``, dropped afterwards; yields its URL."""
    from sqlalchemy import create_engine, text

    schema = "deputy_bench_" + os.urandom(6).hex()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def smoke_test(port: int, bodies: list[bytes], headers: dict[str, str], count: int) -> None:
    """A few sequential exchanges to warm up; the first failure aborts the run (with the reason)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body in bodies[:count]:
        conn.request("POST", "/token", body, headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"smoke exchange failed: {resp.status} {payload[:500]!r}")
    conn.close()


# ---------------------------------------------------------------- the ES256 ceiling

def es256_sign_verify_rate(seconds: float = 2.0) -> float:
    """Single-core ES256 sign+verify pairs per second for a typical delegated access token."""
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", parameters={"kid": "bench", "alg": "ES256"}, private=True)
    public = ECKey.import_key(key.as_dict(private=False))
    now = int(time.time())
    claims = {"iss": "http://127.0.0.1:8000", "sub": "jane", "aud": AUDIENCE, "exp": now + 300, "iat": now,
              "nbf": now, "jti": "Z2V0LXJlYWR5LWZvci1hLWp0aQ", "client_id": CLIENT_ID,
              "scope": "incidents:read incidents:write",
              "act": {"sub": CLIENT_ID, "iss": "http://127.0.0.1:8000"}}
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "bench"}
    pairs, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        token = jwt.encode(header, claims, key, algorithms=["ES256"])
        jwt.decode(token, public, algorithms=["ES256"])
        pairs += 1
    return pairs / elapsed


# ---------------------------------------------------------------- load generators

def wrk_threads(connections: int) -> int:
    return max(1, min(connections, os.cpu_count() or 1))


def run_wrk(port: int, subject_token: str, connections: int, duration: int,
            bodies_file: Path | None = None, rate: float | None = None) -> LoadResult:
    """wrk with exchange.lua: back to back, or with ``rate`` paced by the script's delay() hook
    (each thread sends rate / threads per second on its own schedule and measures its lag)."""
    threads = wrk_threads(connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(HERE / "exchange.lua"), f"http://127.0.0.1:{port}/token"]
    extra = {"SUBJECT_TOKEN": subject_token, "WRK_THREADS": str(threads)}
    if bodies_file is not None:
        extra["BODIES_FILE"] = str(bodies_file)  # private_key_jwt: one body per line, each sent once
    env = {k: v for k, v in os.environ.items() if k != "RATE"}  # no stray RATE from the caller's shell
    if rate is not None:
        extra["RATE"] = repr(float(rate))
    done = subprocess.run(cmd, check=False, env=env | extra,
                          capture_output=True, text=True, timeout=duration + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("WRK_JSON "))
    result = LoadResult("wrk", r["duration_us"] / 1e6, r["requests"], r["non_200"],
                        r["connect"] + r["read"] + r["write"] + r["timeout"],
                        r["p50_us"] / 1000, r["p99_us"] / 1000, r["statuses"])
    if rate is not None:
        result.sent, result.late, result.late_no_conn = r["sent"], r["late"], r["late_no_conn"]
        result.max_late_ms, result.total_late_ms = r["max_late_us"] / 1000, r["total_late_us"] / 1000
        if r["unscheduled"]:  # sends without a slot (re-sent after a reconnect): count them as sent
            result.sent += r["unscheduled"]
    return result


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    # fixed rate: requests sent, sent > 1 ms after due, of those because the previous request on
    # this connection was still running, the largest and the summed lag (seconds)
    sent: int = 0
    late: int = 0
    late_busy: int = 0
    max_lag: float = 0.0
    total_lag: float = 0.0


def _client(port: int, bodies: list[bytes], headers: dict[str, str], slot: int, stride: int, start: float,
            deadline: float, rate: float | None, tally: _Tally) -> None:
    """One persistent connection. With ``rate``, request i is due at start + i/rate and latency is
    counted from when it was due (so a slow server is not hidden by coordinated omission)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = slot
    sent = slot  # this connection sends bodies[slot], bodies[slot + stride], ...
    while True:
        if rate is not None:
            due, i = start + i / rate, i + stride
            if due >= deadline:
                break
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            elif wait < -0.001:
                tally.late_busy += 1  # this connection was still busy with its previous request
            lag = time.perf_counter() - due
            tally.sent += 1
            if lag > 0.001:
                tally.late += 1
            if lag > 0:
                tally.total_lag += lag
                tally.max_lag = max(tally.max_lag, lag)
        elif (due := time.perf_counter()) >= deadline:
            break
        body = bodies[sent % len(bodies)]
        sent += stride
        try:
            conn.request("POST", "/token", body, headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            tally.errors += 1
            conn.close()  # http.client reconnects on the next request
            continue
        tally.latencies.append(time.perf_counter() - due)
        tally.statuses[str(resp.status)] = tally.statuses.get(str(resp.status), 0) + 1
        if resp.will_close:
            conn.close()
    conn.close()


# seconds, latencies, statuses, errors, schedule (sent, late, late_busy, max lag s, total lag s)
Outcome = tuple[float, list[float], dict[str, int], int, tuple[int, int, int, float, float]]


def _loadgen_process(port: int, bodies: list[bytes], headers: dict[str, str], connections: int,
                     duration: float, rate: float | None, results: mp.Queue[Outcome]) -> None:
    tallies = [_Tally() for _ in range(connections)]
    start = time.perf_counter()
    threads = [threading.Thread(target=_client, args=(port, bodies, headers, n, connections, start,
                                                      start + duration, rate, tallies[n]))
               for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses: dict[str, int] = {}
    for tally in tallies:
        for status, n in tally.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    schedule = (sum(t.sent for t in tallies), sum(t.late for t in tallies), sum(t.late_busy for t in tallies),
                max((t.max_lag for t in tallies), default=0.0), sum(t.total_lag for t in tallies))
    results.put((time.perf_counter() - start, sorted(x for t in tallies for x in t.latencies),
                 statuses, sum(t.errors for t in tallies), schedule))


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))]


def run_python(port: int, bodies: list[bytes], headers: dict[str, str], connections: int, duration: int,
               rate: float | None) -> LoadResult:
    """Threads with one keep-alive connection each, in a separate (spawned) process."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue[Outcome] = ctx.Queue()
    proc = ctx.Process(target=_loadgen_process, daemon=True,
                       args=(port, bodies, headers, connections, duration, rate, queue))
    proc.start()
    seconds, latencies, statuses, errors, schedule = queue.get(timeout=duration + 120)  # before join()
    proc.join()
    non_200 = {s: n for s, n in statuses.items() if s != "200"}
    result = LoadResult("python", seconds,
                        len(latencies), sum(non_200.values()), errors,
                        percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, non_200)
    if rate is not None:
        sent, late, late_busy, max_lag, total_lag = schedule
        result.latency_from = "due"
        result.sent, result.late, result.late_no_conn = sent, late, late_busy
        result.max_late_ms, result.total_late_ms = max_lag * 1000, total_lag * 1000
    return result


# ---------------------------------------------------------------- audit and report

def count_issued(env: dict[str, str]) -> int:
    export = cli(env, "audit", "export", "--type", "token.issued")
    if export.returncode != 0:
        raise RuntimeError(f"audit export failed: {export.stderr}")
    return sum(1 for line in export.stdout.splitlines() if line.strip())


def log_problems(log: Path) -> list[str]:
    return [ln for ln in log.read_text(errors="replace").splitlines() if LOG_PROBLEM.search(ln)]


def schedule_summary(result: LoadResult, rate: float | None, duration: int,
                     connections: int) -> dict[str, Any]:
    """New keys for a fixed-rate run (all None for a back-to-back run): did the load generator send
    every request when it was due, and if not, who fell behind and what that does to the latency."""
    keys = ["schedule_kept", "behind", "schedule", "latency_from", "sent", "sent_per_s", "late",
            "late_no_conn", "max_late_ms", "mean_late_ms", "unsent"]
    if rate is None or result.sent is None:
        return dict.fromkeys(keys)
    expected = round(rate * duration)
    unsent = max(0, expected - result.sent)  # due during the run but never sent
    missed = unsent > 0.01 * expected + 2  # slack: each wrk thread's schedule starts after it connects
    late, no_conn = result.late or 0, result.late_no_conn or 0
    mean = (result.total_late_ms or 0.0) / max(result.sent, 1)
    behind = "server" if no_conn or missed else "load generator" if late else None
    if behind is None:
        text = (f"schedule kept: none of {result.sent} requests sent > 1 ms after due "
                f"(max {result.max_late_ms:.2f} ms)")
    else:
        what = [(f"{late} of {result.sent} requests sent > 1 ms after due "
                 f"(max {result.max_late_ms:.1f} ms, mean {mean:.2f} ms over all)")]
        if no_conn:
            what.append(f"{no_conn} found all {connections} connections busy"
                        if result.loadgen == "wrk" else f"{no_conn} found their connection still busy")
        if missed:
            what.append(f"{unsent} of {expected} due never sent")
        if behind == "server":
            effect = ("p99 understated (wrk times from the send)" if result.latency_from == "send"
                      else "p99 includes the lag (timed from when due)")
            text = f"server fell behind: {'; '.join(what)}; {effect}"
        else:  # every late request had a connection free: the load generator itself woke up late
            text = (f"load generator fell behind (woke up late: CPU?): {'; '.join(what)}; none waited "
                    "for a connection, so the server's latency is not hidden")
    return {"schedule_kept": behind is None, "behind": behind, "schedule": text,
            "latency_from": result.latency_from, "sent": result.sent,
            "sent_per_s": round(result.sent / result.seconds, 1), "late": late, "late_no_conn": no_conn,
            "max_late_ms": round(result.max_late_ms or 0.0, 3), "mean_late_ms": round(mean, 3),
            "unsent": unsent}


def report(r: dict[str, Any]) -> None:
    grew = r["token_issued_after"] - r["token_issued_before"]
    by_status = f" {r['non_200_statuses']}" if r["non_200_statuses"] else ""
    rate = f", fixed rate {r['rate']:g}/s" if r["rate"] else ""
    print(f"\nDeputy token exchange: {r['cpus']} CPUs, Python {platform.python_version()}, "
          f"{platform.platform()}, load average {r['load_average_at_start']} at start")
    print(f"  server workers        {r['server_workers']} (deputy serve, {r['database']} store)")
    print(f"  variant               client auth {r['client_auth']}, tokens signed {r['alg']}")
    print(f"  load generator        {r['loadgen']}{rate}, {r['connections']} keep-alive connections, "
          f"{r['seconds']:.1f} s")
    print(f"  requests/s            {r['requests_per_s']}  ({r['requests']} responses)")
    print(f"  exchanges/s (200 OK)  {r['exchanges_per_s']}  ({r['ok']} OK)")
    timed = f"  (timed from the {'send' if r['latency_from'] == 'send' else 'due time'})" if r["rate"] else ""
    print(f"  latency p50 / p99     {r['p50_ms']:.2f} ms / {r['p99_ms']:.2f} ms{timed}")
    if r["rate"]:
        print(f"  schedule              {'OK' if r['schedule_kept'] else 'NOT KEPT'}: {r['schedule']}")
    print(f"  errors                {r['errors']}  (non-200: {r['non_200']}{by_status}, "
          f"connection: {r['conn_errors']})")
    print(f"  ES256 sign+verify     {r['es256_sign_verify_per_s']:.0f} pairs/s on one core (joserfc, this run)")
    print(f"  exchanges / ceiling   {r['exchanges_to_es256_ceiling']:.3f}")
    print(f"  server CPU            {r['server_cpu_ms_per_request']:.2f} ms per request (all workers, user + system)")
    print(f"  load generator CPU    {r['loadgen_cpu_s']:.2f} s, {100 * r['loadgen_cpu_share']:.0f} % of one core "
          f"(of {r['cpus']})")
    print(f"  audit verify          {'OK' if r['audit_intact'] else 'FAILED'}: {r['audit_verify_output']}")
    enough = ">=" if grew >= r["smoke_exchanges"] + r["ok"] else "FEWER THAN"
    print(f"  token.issued events   {r['token_issued_before']} -> {r['token_issued_after']} (+{grew}), "
          f"{enough} {r['smoke_exchanges']} smoke-test + {r['ok']} OK exchanges")
    rss = ", ".join(f"{v:.0f}" for v in r["worker_rss_mib"].values()) or "?"
    print(f"  resident memory       {rss} MiB per server process after "
          f"{r['smoke_exchanges'] + r['requests']} requests in all")
    print(f"  server log            {len(r['server_log_problems'])} problem line(s)")
    for line in r["server_log_problems"][:10]:
        print(f"    {line[:300]}")
    print(json.dumps(r | {"server_log_problems": len(r["server_log_problems"])}, sort_keys=True))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    p.add_argument("--connections", type=int,
                   help="keep-alive connections (default 16; with --rate max(64, rate/10): enough that the "
                        "schedule is not limited by connections while responses take up to ~64-100 ms)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server workers (default: cores)")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                   help="auto = wrk if on PATH, else python")
    p.add_argument("--rate", type=float, help="fixed target rate (requests/s, all connections) for a latency run")
    p.add_argument("--port", type=int, help="server port (default: a free one)")
    p.add_argument("--keep-home", action="store_true", help="keep the temporary DEPUTY_HOME and server log")
    p.add_argument("--auth", choices=["basic", "jwt"], default="basic",
                   help="client_secret_basic (default) or private_key_jwt (a fresh assertion per request)")
    p.add_argument("--alg", choices=["ES256", "RS256"], default="ES256", help="the issued tokens' algorithm")
    p.add_argument("--database", help="SQLAlchemy URL of a PostgreSQL server (a throw-away schema is made "
                                      "there); default: SQLite in the temporary home")
    args = p.parse_args()
    if args.rate is not None and args.rate <= 0:
        p.error("--rate must be positive")
    if args.connections is None:
        args.connections = 16 if args.rate is None else max(64, math.ceil(args.rate / 10))
    if args.connections < 1:
        p.error("--connections must be at least 1")
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "python"
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        p.error("--loadgen wrk needs wrk on PATH (or use --loadgen python)")
    return args


def main() -> int:
    args = parse_args()
    # Unwind through the finally blocks (stop the server, remove the home) on Ctrl-C or kill.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = args.port or free_port()
    home = Path(tempfile.mkdtemp(prefix="deputy-bench-"))
    issuer = f"http://127.0.0.1:{port}"
    env, log = deputy_env(home, issuer), home / "server.log"
    schema = postgres_schema(args.database) if args.database else None
    entered = False
    try:
        if schema is not None:
            env["DEPUTY_DATABASE_URL"] = schema.__enter__()
            entered = True
        for step in (("init", "--dev-realm"), ("token", "user", "jane", "--client", CLIENT_ID)):
            done = cli(env, *step)
            if done.returncode != 0:
                raise RuntimeError(f"deputy {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
        subject_token = done.stdout.strip()
        body, headers = exchange_request(subject_token)
        bodies, bodies_file = [body], None
        key_file = home / "client-key.json" if args.auth == "jwt" else None
        if args.alg != "ES256" or key_file is not None:
            prepared = subprocess.run([sys.executable, "-c", PREPARE, args.alg, str(key_file or "")], env=env,
                                      capture_output=True, text=True, check=False, timeout=120)
            if prepared.returncode != 0:
                raise RuntimeError(f"preparing the variant failed:\n{prepared.stderr}")
        if key_file is not None:
            count = args.duration * 3000 + 64  # more than the server can take: no body is sent twice
            print(f"signing {count} client assertions ...", flush=True)
            bodies = jwt_bodies(subject_token, key_file, issuer, count)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            bodies_file = home / "bodies.txt"
            bodies_file.write_bytes(b"\n".join(bodies[64:]) + b"\n")
        issued_before = count_issued(env)  # the CLI opens the store: not while the server runs
        load_before = os.getloadavg()[0]
        print("measuring single-core ES256 sign+verify for 2 s ...", flush=True)
        ceiling = es256_sign_verify_rate()
        print(f"starting deputy serve --workers {args.workers} on port {port} ...", flush=True)
        with running_server(env, port, args.workers, log) as server:
            smoke = 4 * args.workers
            smoke_test(port, bodies if len(bodies) > 1 else bodies * smoke, headers, smoke)
            load_bodies = bodies[64:] if len(bodies) > 1 else bodies
            pids = worker_pids(server)
            cpu_before = cpu_seconds(pids)
            paced = f" at {args.rate:g} requests/s" if args.rate else ""
            print(f"driving {args.connections} connections{paced} for {args.duration} s with {args.loadgen} ...",
                  flush=True)
            # The load generator is the only child reaped during the load (the server is still running).
            children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            if args.loadgen == "wrk":
                result = run_wrk(port, subject_token, args.connections, args.duration, bodies_file, args.rate)
            else:
                result = run_python(port, load_bodies, headers, args.connections, args.duration, args.rate)
            children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            loadgen_cpu = (children_after.ru_utime - children_before.ru_utime
                           + children_after.ru_stime - children_before.ru_stime)
            server_cpu = cpu_seconds(pids) - cpu_before
            rss = worker_memory(pids)
        verify = cli(env, "audit", "verify")
        issued_after = count_issued(env)
        summary = {
            "loadgen": result.loadgen, "server_workers": args.workers, "connections": args.connections,
            "rate": args.rate, "cpus": os.cpu_count(), "load_average_at_start": round(load_before, 2),
            "seconds": round(result.seconds, 3), "requests": result.requests, "ok": result.ok,
            "requests_per_s": round(result.requests / result.seconds, 1),
            "exchanges_per_s": round(result.ok / result.seconds, 1),
            "p50_ms": round(result.p50_ms, 2), "p99_ms": round(result.p99_ms, 2),
            "errors": result.non_200 + result.conn_errors, "non_200": result.non_200,
            "non_200_statuses": result.statuses, "conn_errors": result.conn_errors,
            "es256_sign_verify_per_s": round(ceiling, 1),
            "exchanges_to_es256_ceiling": round(result.ok / result.seconds / ceiling, 4),
            "audit_intact": verify.returncode == 0,
            "audit_verify_output": " ".join((verify.stdout + verify.stderr).split()),
            "token_issued_before": issued_before, "token_issued_after": issued_after,
            "smoke_exchanges": smoke, "server_log_problems": log_problems(log),
            "database": "PostgreSQL" if args.database else "SQLite", "client_auth": args.auth, "alg": args.alg,
            "worker_rss_mib": {str(pid): round(mib, 1) for pid, mib in rss.items()},
            "server_cpu_ms_per_request": round(server_cpu / max(result.requests, 1) * 1000, 3),
            "loadgen_cpu_s": round(loadgen_cpu, 2),
            "loadgen_cpu_share": round(loadgen_cpu / result.seconds, 3),  # of one core
        } | schedule_summary(result, args.rate, args.duration, args.connections)
        summary["audit_ok"] = summary["audit_intact"] and issued_after - issued_before >= smoke + result.ok
        report(summary)
        return 0 if summary["audit_ok"] else 1
    finally:
        if schema is not None and entered:
            schema.__exit__(None, None, None)
        if args.keep_home:
            print(f"kept {home} (server log: {log})", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted")
