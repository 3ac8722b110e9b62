"""import_public_jwks: only public asymmetric signature keys survive a published JWKS."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from joserfc.jwk import ECKey, OKPKey, RSAKey

from deputy.jose import import_public_jwks


def ec(kid: str = "ec1", **extra: Any) -> dict[str, Any]:
    key = ECKey.generate_key("P-256", parameters={"kid": kid, **extra}, private=True)
    return dict(key.as_dict(private=False))


def kids(document: dict[str, Any]) -> list[str]:
    return [str(k.kid) for k in import_public_jwks(document)]


def test_public_keys_of_each_kind() -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa1"}, private=True).as_dict(private=False)
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed1"}, private=True).as_dict(private=False)
    assert kids({"keys": [ec(), rsa, ed]}) == ["ec1", "rsa1", "ed1"]


def test_private_members_are_dropped() -> None:
    private = dict(ECKey.generate_key("P-256", parameters={"kid": "p"}, private=True).as_dict(private=True))
    (key,) = import_public_jwks({"keys": [private]})
    assert "d" not in key.as_dict(private=False)
    assert not key.is_private


@pytest.mark.parametrize(
    "item",
    [
        {"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "kid": "hmac"},
        {**ec("enc"), "use": "enc"},
        {**ec("ops"), "key_ops": ["encrypt"]},
        {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "x"},
        {"kty": "EC", "crv": "P-256", "x": "not-a-point", "y": "nope", "kid": "bad"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},
        {"kty": "PQ", "kid": "future"},
        "not-an-object",
    ],
)
def test_unusable_keys_are_skipped(item: Any) -> None:
    assert kids({"keys": [item, ec("good")]}) == ["good"]


def test_small_rsa_keys_are_skipped() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kty": "RSA", "kid": "rsa1024", "n": b64(numbers.n), "e": b64(numbers.e)}
    assert kids({"keys": [jwk]}) == []  # skipped before joserfc sees it (no SecurityWarning either)


def test_duplicate_kids_keep_the_first() -> None:
    first, second = ec("same"), ec("same")
    (key,) = import_public_jwks({"keys": [first, second]})
    assert key.as_dict(private=False)["x"] == first["x"]


def test_verify_keys_are_kept() -> None:
    assert kids({"keys": [{**ec("v"), "key_ops": ["verify"], "use": "sig"}]}) == ["v"]


@pytest.mark.parametrize("document", [{}, {"keys": "nope"}, {"keys": {"a": 1}}])
def test_not_a_jwks(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        import_public_jwks(document)


def test_an_empty_result_is_possible() -> None:
    assert kids({"keys": []}) == []
