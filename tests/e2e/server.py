"""A real Deputy server on 127.0.0.1 in a background thread, stopped when the test ends."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from deputy.http import create_app
from deputy.runtime import Deputy
from tests.e2e.asgi_server import serving


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(deputy: Deputy, admin_token: str, port: int) -> Iterator[str]:
    with serving(create_app(deputy, admin_token), port) as base:
        yield base
