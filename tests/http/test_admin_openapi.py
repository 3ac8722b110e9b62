"""The admin API's OpenAPI document: it matches the routes both ways, and schemathesis finds no
500 anywhere in the API it describes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.http import create_app
from deputy.http.admin_openapi import operations
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, DEV_REALM, ISSUER
from tests.http.support import ADMIN, assert_no_leak


def _routes(app: Starlette) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/admin"):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((path, method.lower()))
    return found


def test_document_and_routes_agree(app: Starlette) -> None:
    routes = _routes(app)
    documented = set(operations())
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations with no route"


def test_document_is_served_to_the_admin_only(client: TestClient) -> None:
    assert client.get("/admin/openapi.json").status_code == 401
    r = client.get("/admin/openapi.json", headers=ADMIN)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1") and "/admin/agents/{client_id}" in doc["paths"]


@pytest.fixture
def fuzz_deputy(tmp_path: Path) -> Iterator[Deputy]:
    deputy = Deputy.open(Settings(issuer=ISSUER, home=tmp_path / "home", admin_token=ADMIN_TOKEN), FixedClock())
    load_realm(deputy.admin("test"), read_realm_file(DEV_REALM))
    yield deputy
    deputy.close()


EXAMPLES_PER_OPERATION = 15


def test_no_server_errors_anywhere_in_the_admin_api(fuzz_deputy: Deputy) -> None:
    """Every operation in the document, with generated (valid and invalid) parameters and
    bodies: never a 5xx, always JSON, never a leak."""
    app = create_app(fuzz_deputy, ADMIN_TOKEN)
    schema = schemathesis.openapi.from_asgi("/admin/openapi.json", app, headers=ADMIN)
    run_for: set[tuple[str, str]] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        run_for.add((operation.path, operation.method.lower()))

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=ADMIN)
            assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
            content_type = (response.headers.get("content-type") or [""])[0]
            assert content_type.startswith("application/json"), response.text
            assert_no_leak(response)  # type: ignore[arg-type]  # reads .text only

        run()
    # schemathesis leaves out the document itself
    assert run_for == set(operations()) - {("/admin/openapi.json", "get")}
