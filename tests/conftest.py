"""Shared fixtures: a Deputy on a temporary SQLite store with the development realm loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.runtime import Deputy

DEV_REALM = Path(__file__).resolve().parents[1] / "src" / "deputy" / "admin" / "dev_realm.toml"
ADMIN_TOKEN = "test-admin-token-0123456789"
ISSUER = "http://127.0.0.1:8000"
AGENT = ("incident-agent", "incident-agent-dev-secret")
TRIAGE = ("triage-agent", "triage-agent-dev-secret")
INCIDENTS = "https://incidents.example"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def clock() -> FixedClock:
    import time

    return FixedClock(int(time.time()))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(issuer=ISSUER, home=tmp_path / "home", admin_token=ADMIN_TOKEN)


@pytest.fixture
def deputy(settings: Settings, clock: FixedClock) -> Iterator[Deputy]:
    instance = Deputy.open(settings, clock)
    load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
    yield instance
    instance.close()
