"""``deputy serve --workers 2``: each worker listens on its own socket (SO_REUSEPORT), so that
connections opened together, and kept open, are spread over the workers rather than all accepted
by whichever worker woke first; a worker that dies is replaced; SIGTERM stops everything."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from deputy.cli.workers import reuse_port_supported
from tests.e2e.server import deputy_cli, free_port, serving_process, stop

pytestmark = pytest.mark.skipif(not reuse_port_supported(), reason="one socket per worker: Linux only")


def workers_of(server_pid: int) -> list[int]:
    """The server's worker processes (its children that serve HTTP; not multiprocessing's helper)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return [int(pid) for pid in children
            if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]


def established_on(pid: int, port: int) -> int:
    """Connections to ``port`` that process ``pid`` holds open (its socket inodes in /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        if local_port == port and state == "01" and inode in inodes:  # 01 = ESTABLISHED
            count += 1
    return count


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialised Deputy home with the development realm."""
    path = tmp_path / "home"
    assert deputy_cli(path, "init", "--dev-realm").returncode == 0
    return path


def test_connections_opened_together_are_spread_over_the_workers(home: Path) -> None:
    port = free_port()
    with serving_process(home, port, "--workers", "2") as server:
        workers = workers_of(server.pid)
        assert len(workers) == 2
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
        try:
            for conn in connections:
                conn.connect()
            for conn in connections:  # one request each, and the connection kept open
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                assert response.status == 200
            held = [established_on(pid, port) for pid in workers]
            assert sum(held) == 32
            # hashed over two sockets, 32 connections leave each worker at least 4 but for a
            # one-in-a-million draw; a shared socket typically gives one worker nearly all
            assert min(held) >= 4, held
        finally:
            for conn in connections:
                conn.close()
        assert stop(server) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_worker_that_dies_is_replaced(home: Path) -> None:
    port = free_port()
    with serving_process(home, port, "--workers", "2") as server:
        first = workers_of(server.pid)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = workers_of(server.pid)
            if len(now) == 2 and first[0] not in now:
                break
            assert time.monotonic() < deadline, f"no replacement worker: {now}"
            time.sleep(0.1)
        for _ in range(8):  # fresh connections, to whichever worker the kernel picks
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert stop(server) == 0


def test_a_port_already_in_use_is_a_clear_error_not_a_traceback(home: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        done = deputy_cli(home, "serve", "--workers", "2", "--port", str(port))
    finally:
        taken.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_server_cannot_share_the_port_of_a_running_one(home: Path, tmp_path: Path) -> None:
    """SO_REUSEPORT would let a second ``deputy serve`` on the same port take half the
    connections without a word; it must be refused as "address in use" instead."""
    port = free_port()
    with serving_process(home, port, "--workers", "2"):
        done = deputy_cli(tmp_path / "other", "serve", "--workers", "2", "--port", str(port))
        assert done.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
