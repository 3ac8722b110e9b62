"""Fixtures: the ASGI app over the shared ``deputy`` fixture, driven in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from deputy.http import create_app
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def app(deputy: Deputy) -> Starlette:
    return create_app(deputy, ADMIN_TOKEN)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """Server exceptions propagate: an unexpected error fails the test loudly."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def raw_client(app: Starlette) -> Iterator[TestClient]:
    """Server exceptions become the 500 response a real client would see."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
