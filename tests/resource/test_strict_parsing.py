"""TokenVerifier parses a token once, strictly (deputy.jose.compact): every malformed or mutated
token is an ``invalid_token``, never another error; valid tokens give what joserfc reads."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet

from deputy.clock import FixedClock
from deputy.resource import InvalidToken, TokenVerifier
from tests.resource.support import START, FakeAS, b64url, raw_jwt

PROPERTY = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture
def fake() -> FakeAS:
    return FakeAS(FixedClock(START))


@pytest.fixture
def verifier(fake: FakeAS) -> TokenVerifier:
    verifier = fake.verifier()
    verifier.verify(fake.token())  # keys fetched
    return verifier


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token)
    return info.value.detail


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_claims_are_what_joserfc_reads(fake: FakeAS, verifier: TokenVerifier, alg: str) -> None:
    token = fake.token(key=fake.es if alg == "ES256" else fake.rs, extra={"list": [1, {"a": None}], "f": 1.5})
    expected = jwt.decode(token, KeySet.import_key_set(fake.jwks()), algorithms=[alg]).claims
    assert thaw(verifier.verify(token).claims) == expected


@PROPERTY
@given(data=st.data())
def test_random_mutations_are_invalid_tokens(fake: FakeAS, verifier: TokenVerifier, data: st.DataObject) -> None:
    token = fake.token(key=data.draw(st.sampled_from([fake.es, fake.rs])))
    at = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters() | st.sampled_from(list("AQgw-_=.+/ ")))
    mutated = token[:at] + replacement + token[at + 1:]
    if mutated != token:
        refused(verifier, mutated)


def test_padding_extra_segments_and_foreign_characters(fake: FakeAS, verifier: TokenVerifier) -> None:
    token = fake.token()
    head, claims, sig = token.split(".")
    for bad in (f"{head}=.{claims}.{sig}", f"{head}.{claims}=.{sig}", f"{token}=", f"{token}==", f"{token}.",
                f"{token}.{sig}", f"{head}.{claims}", f"{head}.{claims}.{sig}.{head}", f" {token}", f"{token}\n",
                token.replace("-", "+").replace("_", "/")):
        if bad != token:
            assert refused(verifier, bad)


def signed(fake: FakeAS, header: dict[str, Any]) -> str:
    """Signed by the issuer's ES256 key with any header (joserfc refuses to write some)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    unsigned = raw_jwt({"alg": "ES256", "typ": "at+jwt", "kid": "es-1", **header}, fake.claims()).rsplit(".", 1)[0]
    private = fake.es.private_key
    assert private is not None
    r, s = decode_dss_signature(private.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{unsigned}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_crit_and_b64(fake: FakeAS, verifier: TokenVerifier) -> None:
    assert verifier.verify(signed(fake, {})).user == "jane"
    assert "crit" in refused(verifier, signed(fake, {"crit": ["exp"], "exp": 1}))
    assert "b64" in refused(verifier, signed(fake, {"b64": True}))


def test_non_json_header(fake: FakeAS, verifier: TokenVerifier) -> None:
    _, claims, sig = fake.token().split(".")
    assert "header" in refused(verifier, f"{b64url(b'not json')}.{claims}.{sig}")
    assert "header" in refused(verifier, f"{b64url(b'[1]')}.{claims}.{sig}")


@pytest.mark.parametrize("length", [0, 32, 63, 65, 72])
def test_es256_signature_of_the_wrong_length(fake: FakeAS, verifier: TokenVerifier, length: int) -> None:
    token = raw_jwt({"alg": "ES256", "typ": "at+jwt", "kid": "es-1"}, fake.claims(), b"\x01" * length)
    assert "signature" in refused(verifier, token)


def test_es256_signature_out_of_range(fake: FakeAS, verifier: TokenVerifier) -> None:
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    head, claims, sig = fake.token().split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    r = int.from_bytes(raw[:32], "big")
    for r2, s2 in ((0, 1), (r, 0), (n, 1), (r, n)):
        forged = f"{head}.{claims}.{b64url(r2.to_bytes(32, 'big') + s2.to_bytes(32, 'big'))}"
        assert "signature" in refused(verifier, forged)


def test_rs256_token_with_the_es256_key_id(fake: FakeAS, verifier: TokenVerifier) -> None:
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "es-1"}, fake.claims(), fake.rs)
    assert "pinned" in refused(verifier, token)


# -- the extension point other token profiles use -------------------------------------------------------

class PlainJWTVerifier(TokenVerifier):
    """A profile with its own typ, required claims and claim mapping: through the hook only."""

    token_types = ("JWT",)
    required_claims = ("iss", "aud", "sub", "exp", "azp")

    def _accept_claims(self, claims: Mapping[str, Any]) -> Mapping[str, Any]:
        if claims.get("azp") != "front-end":
            raise ValueError("not from the front end")
        return {**claims, "client_id": claims["azp"], "jti": "n/a"}


def test_a_subclass_changes_types_claims_and_mapping_but_not_the_signature_checks(fake: FakeAS) -> None:
    import httpx

    from tests.resource.support import ISSUER, RESOURCE

    verifier = PlainJWTVerifier(ISSUER, RESOURCE, clock=fake.clock, http_client=httpx.Client(transport=fake.transport()))
    token = fake.token(typ="JWT", azp="front-end", client_id=None, jti=None)
    principal = verifier.verify(token)
    assert (principal.user, principal.client_id) == ("jane", "front-end")
    with pytest.raises(InvalidToken, match="front end"):
        verifier.verify(fake.token(typ="JWT", azp="elsewhere"))
    with pytest.raises(InvalidToken, match="typ"):
        verifier.verify(fake.token(azp="front-end"))  # at+jwt is not this profile's type
    head, claims, sig = token.split(".")
    with pytest.raises(InvalidToken, match="signature"):
        verifier.verify(f"{head}.{claims}.{sig[:10]}{'B' if sig[10] == 'A' else 'A'}{sig[11:]}")
