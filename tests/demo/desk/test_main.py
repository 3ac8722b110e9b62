"""``python -m deputy.demo.desk``: arguments checked before anything is served; the app it serves."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from starlette.testclient import TestClient

from deputy.demo.desk.__main__ import SECRET_VARIABLE, main


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        calls.update(options, app=app)

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def test_serves_the_seed_desk_on_loopback(served: dict[str, Any]) -> None:
    assert main(["--issuer", "http://127.0.0.1:8000", "--port", "8391"]) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 8391)
    with TestClient(served["app"]) as client:
        assert client.get("/healthz").text == "ok"
        metadata = client.get("/.well-known/oauth-protected-resource").json()
        assert metadata["resource"] == "https://incidents.example"
        assert metadata["authorization_servers"] == ["http://127.0.0.1:8000"]
        challenge = client.get("/api/now/table/incident").headers["www-authenticate"]
        assert 'resource_metadata="http://127.0.0.1:8391/.well-known/oauth-protected-resource"' in challenge


def test_bad_settings_fail_before_serving(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--issuer", "http://deputy.example"]) == 2  # plain http off loopback
    assert "error:" in capsys.readouterr().err
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    assert main(["--issuer", "http://127.0.0.1:8000", "--introspection-client", "incident-desk"]) == 2
    assert SECRET_VARIABLE in capsys.readouterr().err
    assert served == {}


def test_the_introspection_secret_comes_from_the_environment(served: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, "incident-desk-dev-secret")
    assert main(["--issuer", "http://127.0.0.1:8000", "--introspection-client", "incident-desk"]) == 0
    assert "app" in served
