"""Deputy served over real HTTP on a free port, its issuer matching that port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deputy.config import Settings
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN
from tests.e2e.server import free_port, running_server


@pytest.fixture
def deputy_port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, deputy_port: int) -> Settings:
    return Settings(issuer=f"http://127.0.0.1:{deputy_port}", home=tmp_path / "home", admin_token=ADMIN_TOKEN)


@pytest.fixture
def base(deputy: Deputy, deputy_port: int) -> Iterator[str]:
    """Deputy's base URL (= its issuer), served until the test ends."""
    with running_server(deputy, ADMIN_TOKEN, deputy_port) as url:
        yield url
