"""``deputy serve --workers N`` on Linux: N server processes, each with its own listening socket
on the same port (``SO_REUSEPORT``), so that the kernel spreads new connections evenly.

uvicorn's own multi-process mode shares one listening socket: every idle worker wakes for a new
connection and the first to run accepts everything queued. Clients that keep their connections
open (agents, load balancers, benchmarks) could then all end up on one worker: measured with 16
keep-alive connections, one worker used 0.9 of a core and the other 0.45 (docs/performance.md).
With one socket per worker the kernel hashes each connection to one of them instead.

The supervisor here is small on purpose: start the workers, restart one that dies (not one that
failed to start: that would fail again), and on SIGTERM or SIGINT stop them all gracefully
(SIGTERM: uvicorn finishes the requests in flight), then kill what is left after a grace period.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess
from types import FrameType

log = logging.getLogger("deputy.serve")

STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start (app, bind, TLS)
GRACE_SECONDS = 30.0

_spawn = multiprocessing.get_context("spawn")


def reuse_port_supported() -> bool:
    """Linux only: there ``SO_REUSEPORT`` spreads connections over the sockets; on macOS and the
    BSDs the option exists but the last socket bound gets every connection."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def ensure_port_free(host: str, port: int) -> None:
    """Raise OSError (address in use) if anything listens on the port, a Deputy included: sockets
    that all set ``SO_REUSEPORT`` would otherwise share the port with it without a word."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(sock: socket.socket, app: str, log_level: str) -> None:
    import uvicorn

    config = uvicorn.Config(app, factory=True, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class Workers:
    def __init__(self, host: str, port: int, count: int, app: str, log_level: str) -> None:
        self._app = app
        self._log_level = log_level
        # All bound before any worker starts: a port in use fails here, once, not in every worker.
        if port != 0:
            ensure_port_free(host, port)
        first = listening_socket(host, port)
        port = first.getsockname()[1]  # port 0: the one the kernel chose, for every worker
        self._sockets = [first] + [listening_socket(host, port) for _ in range(count - 1)]
        self._processes: list[BaseProcess] = []
        self._stop = threading.Event()

    def _start(self, index: int) -> BaseProcess:
        process = _spawn.Process(target=_worker, args=(self._sockets[index], self._app, self._log_level))
        process.start()
        return process

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit code (non-zero if a worker could not start)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        code = 0
        try:
            self._processes = [self._start(i) for i in range(len(self._sockets))]
            while not self._stop.wait(0.5):
                for index, process in enumerate(self._processes):
                    if process.is_alive() or self._stop.is_set():
                        continue
                    if process.exitcode == STARTUP_FAILURE:
                        log.error("worker %s could not start; stopping", process.pid)
                        code = STARTUP_FAILURE
                        self._stop.set()
                        break
                    log.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
                    self._processes[index] = self._start(index)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sock in self._sockets:
                sock.close()
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()

    def _stop_all(self) -> None:
        for process in self._processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        for process in self._processes:
            process.join(GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
