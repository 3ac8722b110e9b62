"""Client authentication: Basic (form-encoded parts), post, and private_key_jwt with a fresh
assertion per request (unique jti, aud = the target token endpoint, the key's kid)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from deputy.agent import ClientSecret, ConfigurationError, PrivateKeyJWT
from deputy.constants import CLIENT_ASSERTION_TYPE_JWT_BEARER


def test_basic_encodes_each_part_first() -> None:
    data: dict[str, str] = {}
    headers: dict[str, str] = {}
    ClientSecret("agent:1", "p@ss word").apply("https://as.example/token", data, headers)
    assert data == {}
    decoded = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert decoded == "agent%3A1:p%40ss%20word"


def test_post_and_the_secret_is_never_shown() -> None:
    client = ClientSecret("agent", "s3cret-value", method="client_secret_post")
    data: dict[str, str] = {}
    client.apply("https://as.example/token", data, {})
    assert data == {"client_id": "agent", "client_secret": "s3cret-value"}
    assert "s3cret-value" not in repr(client) + str(client)
    with pytest.raises(ConfigurationError):
        ClientSecret("agent", "x", method="private_key_jwt")


def test_private_key_jwt_fresh_assertion_per_request() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k-2026", "alg": "RS256"}, private=True)
    client = PrivateKeyJWT("agent", key.as_dict(private=True), clock=lambda: 1_800_000_000)
    seen = []
    for endpoint in ("https://idp.example/token", "https://as.example/token"):
        data: dict[str, str] = {}
        client.apply(endpoint, data, {})
        assert data["client_assertion_type"] == CLIENT_ASSERTION_TYPE_JWT_BEARER and data["client_id"] == "agent"
        decoded = jwt.decode(data["client_assertion"], key, algorithms=["RS256"])
        assert decoded.header["kid"] == "k-2026" and decoded.header["alg"] == "RS256"
        claims = decoded.claims
        assert (claims["iss"], claims["sub"], claims["aud"]) == ("agent", "agent", endpoint)
        assert claims["exp"] - claims["iat"] == 60
        seen.append(claims["jti"])
    assert len(set(seen)) == 2
    assert "PRIVATE" not in repr(client) and key.as_dict(private=True)["d"] not in repr(client)


def test_private_key_jwt_from_pem_needs_a_kid() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ConfigurationError, match="kid"):
        PrivateKeyJWT("agent", pem)
    client = PrivateKeyJWT("agent", pem, kid="pem-1")
    assert client.alg == "ES256"
    assertion = client.assertion("https://as.example/token")
    public = ECKey.import_key(pem).as_dict(private=False)
    assert jwt.decode(assertion, ECKey.import_key(public), algorithms=["ES256"]).claims["aud"] == "https://as.example/token"


def test_unusable_keys_fail_at_configuration() -> None:
    public = ECKey.generate_key("P-256", parameters={"kid": "k"}, private=True).as_dict(private=False)
    with pytest.raises(ConfigurationError, match="private"):
        PrivateKeyJWT("agent", public)
    with pytest.raises(ConfigurationError):
        PrivateKeyJWT("agent", "not a key", kid="k")
    with pytest.raises(ConfigurationError, match="alg"):
        PrivateKeyJWT("agent", ECKey.generate_key("P-256", private=True).as_dict(private=True), kid="k", alg="HS256")
