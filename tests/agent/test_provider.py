"""Discovery and answers that are not tokens, with a mock authorization server."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from deputy.agent import (
    ClientCredentials,
    ClientSecret,
    ConfigurationError,
    CredentialProvider,
    CrossAppAccess,
    TokenBroker,
    TokenRequestFailed,
    user_token,
)

ISSUER = "https://as.example/tenant"


def broker(handler: Callable[[httpx.Request], httpx.Response], provider: CredentialProvider) -> TokenBroker:
    return TokenBroker([provider], http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def m2m(**kwargs: str) -> CredentialProvider:
    return CredentialProvider(name="m2m", flow=ClientCredentials(), client=ClientSecret("a", "b"), **kwargs)


def test_discovery_falls_back_to_openid_configuration() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/tenant/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": f"{ISSUER}/token"})
        if request.url.path == "/tenant/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form == {"grant_type": "client_credentials", "audience": "billing"}
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return httpx.Response(404)

    chosen = m2m(issuer=ISSUER, audience="billing")
    client = broker(handler, chosen)
    token = client.get_token("m2m")
    assert token.value == "t" and token.expires_at > 0
    assert asked == [
        "https://as.example/.well-known/oauth-authorization-server/tenant",  # RFC 8414 §3.1 first
        "https://as.example/tenant/.well-known/openid-configuration",
        "https://as.example/tenant/token",
    ]
    client.vault.clear()
    client.get_token("m2m")
    assert len(asked) == 4  # the metadata is cached


def test_metadata_for_another_issuer_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issuer": "https://evil.example", "token_endpoint": "https://evil.example/t"})

    with pytest.raises(TokenRequestFailed) as refused:
        broker(handler, m2m(issuer=ISSUER)).get_token("m2m")
    assert refused.value.step == "discovery" and refused.value.error == "invalid_metadata"
    assert "evil.example" in str(refused.value)


@pytest.mark.parametrize(("response", "expected"), [
    (httpx.Response(500, text="<html>oops</html>"), "HTTP 500, no OAuth error: answer is not a JSON object"),
    (httpx.Response(200, json={"token_type": "Bearer"}), "invalid_response: no access_token or token_type"),
    (httpx.Response(401, json={"error": "invalid_client", "error_description": "x" * 1000}), "invalid_client: xxx"),
])
def test_answers_that_are_not_tokens(response: httpx.Response, expected: str) -> None:
    client = broker(lambda request: response, m2m(token_endpoint=f"{ISSUER}/token"))
    with pytest.raises(TokenRequestFailed) as failed:
        client.get_token("m2m")
    assert expected in str(failed.value) and len(str(failed.value)) < 500


def test_redirects_are_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "https://evil.example/token"})

    with pytest.raises(TokenRequestFailed) as failed:
        broker(handler, m2m(token_endpoint=f"{ISSUER}/token")).get_token("m2m")
    assert failed.value.status == 307


def test_cross_app_access_wants_an_id_jag() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "x", "token_type": "Bearer",
                                         "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})

    provider = CredentialProvider(
        name="xaa", flow=CrossAppAccess(idp_client=ClientSecret("a", "b"), idp_token_endpoint="https://idp.example/t"),
        client=ClientSecret("c", "d"), issuer="https://as.example",
    )
    with user_token("id-token"), pytest.raises(TokenRequestFailed) as failed:
        broker(handler, provider).get_token("xaa")
    assert failed.value.step == "id_token -> ID-JAG at the IdP" and "not an ID-JAG" in str(failed.value)
    assert json.dumps(failed.value.args).find("id-token") == -1


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        m2m(token_endpoint="http://as.example/token")
    with pytest.raises(ConfigurationError, match="configured twice"):
        TokenBroker([m2m(token_endpoint=f"{ISSUER}/t"), m2m(token_endpoint=f"{ISSUER}/t")])
    with pytest.raises(ConfigurationError, match="no credential provider named 'x'"):
        TokenBroker().get_token("x")
    with pytest.raises(ConfigurationError, match="exactly one"):
        CrossAppAccess(idp_client=ClientSecret("a", "b"))


def test_entra_suberror_and_claims_challenge_are_kept() -> None:
    body = {"error": "interaction_required", "error_description": "AADSTS50076: MFA required",
            "suberror": "basic_action", "claims": '{"access_token":{"capolids":{"essential":true}}}'}
    from tests.agent.fake_as import FakeWorld

    world = FakeWorld(refuse=(400, body))
    with user_token("jane-token"), pytest.raises(TokenRequestFailed) as failed:
        world.broker().get_token("api")
    assert failed.value.error == "interaction_required" and failed.value.suberror == "basic_action"
    assert failed.value.claims == body["claims"]


def test_reuse_never_outlives_the_user_token() -> None:
    """Derived tokens are reused no longer than the user token lives (its exp, read unverified:
    it can only shorten reuse); a user token that is not a JWT changes nothing."""
    import base64
    import time

    from tests.agent.fake_as import FakeWorld

    exp = int(time.time()) + 100
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "jane", "exp": exp}).encode()).decode().rstrip("=")
    short_lived = f"eyJhbGciOiJFUzI1NiJ9.{payload}.sig"
    broker = FakeWorld().broker()
    with user_token(short_lived):
        assert broker.get_token("api").expires_at == exp  # not now + 300
    with user_token("opaque-token"):
        assert broker.get_token("api").expires_at > exp + 100
