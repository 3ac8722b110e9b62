"""Providers from a dict, a JSON file or an environment variable; bad configuration fails at load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from deputy.agent import (
    ClientCredentials,
    ClientSecret,
    ConfigurationError,
    CrossAppAccess,
    OnBehalfOf,
    PrivateKeyJWT,
    TokenExchange,
    load_providers,
    providers_from_dict,
    providers_from_env,
)

CONFIG = {
    "providers": {
        "incident-desk": {
            "flow": "token_exchange", "issuer": "https://deputy.example", "resource": "https://incidents.example",
            "scopes": ["incidents:read"], "client": {"client_id": "incident-agent", "client_secret_env": "AGENT_SECRET"},
            "actor_token": {"file": "/run/spiffe/jwt-svid"},
        },
        "graph": {
            "flow": "on_behalf_of", "token_endpoint": "https://login.example/tenant/oauth2/v2.0/token",
            "scopes": "https://graph.example/.default",
            "client": {"client_id": "agent-app", "client_secret": "x", "method": "client_secret_post"},
        },
        "m2m": {"flow": "client_credentials", "token_endpoint": "https://deputy.example/token",
                "audience": "billing", "client": {"client_id": "a", "client_secret": "b"}},
    }
}


def test_from_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SECRET", "from-the-environment")
    desk, graph, m2m = providers_from_dict(CONFIG)
    assert isinstance(desk.flow, TokenExchange) and desk.flow.actor is not None
    assert desk.flow.actor.path == Path("/run/spiffe/jwt-svid")
    assert isinstance(desk.client, ClientSecret) and desk.client.secret == "from-the-environment"
    assert isinstance(graph.flow, OnBehalfOf) and graph.scopes == ("https://graph.example/.default",)
    assert isinstance(m2m.flow, ClientCredentials) and m2m.audience == "billing"
    assert "from-the-environment" not in repr(desk)


def test_from_a_file_and_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SECRET", "s")
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(CONFIG))
    assert [p.name for p in load_providers(path)] == ["incident-desk", "graph", "m2m"]
    monkeypatch.setenv("DEPUTY_AGENT_PROVIDERS", str(path))
    assert len(providers_from_env()) == 3
    monkeypatch.setenv("DEPUTY_AGENT_PROVIDERS", json.dumps(CONFIG["providers"]))
    assert len(providers_from_env()) == 3


def test_cross_app_access_with_keys(tmp_path: Path) -> None:
    jwk = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True).as_dict(private=True)
    key_file = tmp_path / "agent.jwk"
    key_file.write_text(json.dumps(jwk))
    (xaa,) = providers_from_dict({"desk": {
        "flow": "cross_app_access", "issuer": "https://as.example", "scopes": ["incidents:read"],
        "client": {"client_id": "xaa-agent", "private_key_file": str(key_file)},
        "idp": {"issuer": "https://idp.example", "client": {"client_id": "agent", "private_key": jwk}},
    }})
    assert isinstance(xaa.flow, CrossAppAccess) and isinstance(xaa.client, PrivateKeyJWT)
    assert xaa.client.kid == "k1" and xaa.flow.idp_client.client_id == "agent"


@pytest.mark.parametrize(("spec", "message"), [
    ({"flow": "implicit", "token_endpoint": "https://as.example/t", "client": {"client_id": "a", "client_secret": "b"}},
     "flow must be"),
    ({"flow": "client_credentials", "client": {"client_id": "a", "client_secret": "b"}}, "token_endpoint or issuer"),
    ({"flow": "client_credentials", "token_endpoint": "http://as.example/t",
      "client": {"client_id": "a", "client_secret": "b"}}, "https"),
    ({"flow": "client_credentials", "token_endpoint": "https://as.example/t", "clientid": "a"}, "unknown keys"),
    ({"flow": "client_credentials", "token_endpoint": "https://as.example/t",
      "client": {"client_id": "a", "client_secret_env": "DEPUTY_TEST_UNSET"}}, "DEPUTY_TEST_UNSET is not set"),
    ({"flow": "cross_app_access", "issuer": "https://as.example", "client": {"client_id": "a", "client_secret": "b"}},
     "idp section"),
])
def test_bad_configuration_fails_at_load(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        providers_from_dict({"p": spec})


def test_user_federation() -> None:
    from deputy.agent import UserFederation

    (github,) = providers_from_dict({"github": {
        "flow": "user_federation", "redirect_uri": "https://agent.example/callback",
        "authorization_endpoint": "https://github.example/login/oauth/authorize",
        "token_endpoint": "https://github.example/login/oauth/access_token", "scopes": ["repo"],
        "client": {"client_id": "a", "client_secret": "b", "method": "client_secret_post"},
    }})
    assert isinstance(github.flow, UserFederation) and github.flow.redirect_uri == "https://agent.example/callback"
    with pytest.raises(ConfigurationError, match="redirect_uri"):
        providers_from_dict({"g": {"flow": "user_federation", "token_endpoint": "https://g.example/t",
                                   "client": {"client_id": "a", "client_secret": "b"}}})
