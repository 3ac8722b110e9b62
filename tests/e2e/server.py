"""A real Deputy server on 127.0.0.1, stopped when the test ends: in a background thread
(``running_server``), or as ``deputy serve`` in its own process (``serving_process``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from deputy.http import create_app
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN
from tests.databases import database_env
from tests.e2e.asgi_server import serving

SRC = Path(__file__).resolve().parents[2] / "src"
DEPUTY = [sys.executable, "-c", "import sys; from deputy.cli.main import main; sys.argv[0] = 'deputy'; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(deputy: Deputy, admin_token: str, port: int) -> Iterator[str]:
    with serving(create_app(deputy, admin_token), port) as base:
        yield base


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPUTY_")}
    env.update(DEPUTY_HOME=str(home), DEPUTY_ADMIN_TOKEN=ADMIN_TOKEN,
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])))
    env.update(database_env(home))  # the PostgreSQL pass: this home's throw-away database
    env.update(extra)
    return env


def deputy_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEPUTY, *args], env=cli_env(home), capture_output=True, text=True, timeout=120, check=False)


@contextmanager
def serving_process(home: Path, port: int, *args: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``deputy serve`` (with ``args``, and ``env`` added to its environment) in its own process.
    Whatever happens it is gone when the block ends: SIGTERM (a clean stop, its workers included),
    then SIGKILL if it is still there after 30 s. A test that wants the clean stop checked stops
    it itself (``stop``)."""
    process = subprocess.Popen(
        [*DEPUTY, "serve", "--port", str(port), "--home", str(home), *args], env=cli_env(home, **env),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("deputy serve did not start")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, wait up to 30 s, then SIGKILL; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=30)
