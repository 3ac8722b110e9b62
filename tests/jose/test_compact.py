"""The compact JWS parser and the signature check behind ``verify_jwt`` (deputy.jose.compact),
attacked property by property, with joserfc as the oracle on valid tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey

from deputy.jose import JWTInvalid, import_public_jwks, parse_jws, verify_jwt
from deputy.jose.compact import _ECDSA, SIGNATURE_ALGORITHMS

NOW = 1_800_000_000
ISS = "https://deputy.example"
CLAIMS: dict[str, Any] = {"iss": ISS, "sub": "jane", "aud": "https://rs.example", "iat": NOW, "exp": NOW + 300,
                          "jti": "j1", "client_id": "agent"}
P256_ORDER = _ECDSA["ES256"][3]
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@pytest.fixture(scope="module")
def es() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "es", "alg": "ES256"}, private=True)


@pytest.fixture(scope="module")
def rs() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rs", "alg": "RS256"}, private=True)


@pytest.fixture(scope="module")
def keys(es: ECKey, rs: RSAKey) -> KeySet:
    return KeySet.import_key_set({"keys": [es.as_dict(private=False), rs.as_dict(private=False)]})


def check(token: str, keys: KeySet, algorithms: tuple[str, ...] = ("ES256", "RS256"), **options: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"now": NOW, "typ": "at+jwt", "issuer": ISS}
    kwargs.update(options)
    return dict(verify_jwt(token, keys, algorithms=algorithms, **kwargs).claims)


def es256_token(key: ECKey, header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None,
                *, r_s: tuple[int, int] | None = None) -> str:
    """An ES256 token signed with cryptography directly, so that any header goes in; ``r_s``
    replaces the signature's integers (for range attacks)."""
    head = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid} if header is None else header
    signing_input = f"{b64json(head)}.{b64json(CLAIMS if claims is None else claims)}"
    private = key.private_key
    assert private is not None
    r, s = decode_dss_signature(private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    r, s = r_s if r_s is not None else (r, s)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def rs_of(token: str) -> tuple[int, int]:
    raw = base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


# -- the oracle: valid tokens verify exactly as joserfc decodes them ------------------------------------

ORACLE_KEYS = {
    "ES256": lambda: ECKey.generate_key("P-256", private=True),
    "ES384": lambda: ECKey.generate_key("P-384", private=True),
    "ES512": lambda: ECKey.generate_key("P-521", private=True),
    "RS256": lambda: RSAKey.generate_key(2048, private=True),
    "RS512": lambda: RSAKey.generate_key(2048, private=True),
    "PS256": lambda: RSAKey.generate_key(2048, private=True),
    "PS384": lambda: RSAKey.generate_key(2048, private=True),
    "Ed25519": lambda: OKPKey.generate_key("Ed25519", private=True),  # EdDSA: joserfc warns it is deprecated
}


@pytest.mark.parametrize("alg", sorted(ORACLE_KEYS))
def test_every_algorithm_agrees_with_joserfc(alg: str) -> None:
    key: Key = ORACLE_KEYS[alg]()
    public = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    for _ in range(5):  # ECDSA signatures are random: a few of them, high and low s alike
        token = jwt.encode({"alg": alg, "typ": "at+jwt"}, CLAIMS, key, algorithms=[alg])
        assert check(token, public, (alg,)) == jwt.decode(token, public, algorithms=[alg]).claims


def test_the_algorithm_table_covers_what_verifiers_may_allow() -> None:
    from deputy.resource.verifier import ACCESS_TOKEN_ALGORITHMS

    assert ACCESS_TOKEN_ALGORITHMS <= SIGNATURE_ALGORITHMS


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    _containers,
    max_leaves=12,
)


@PROPERTY
@given(extra=st.dictionaries(st.text(max_size=12).map(lambda k: f"x-{k}"), json_values, max_size=6))
def test_claims_come_out_as_joserfc_reads_them(es: ECKey, keys: KeySet, extra: dict[str, Any]) -> None:
    claims = {**extra, **CLAIMS}
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "es"}, claims, es)
    assert check(token, keys) == jwt.decode(token, keys, algorithms=["ES256"]).claims


# -- mutations never verify ------------------------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
noise = st.sampled_from(ALPHABET) | st.sampled_from(list("=.+/ \n\t\x00%")) | st.characters()


@PROPERTY
@given(data=st.data())
def test_random_mutations_never_verify(es: ECKey, keys: KeySet, data: st.DataObject) -> None:
    token = es256_token(es)
    mutated = token
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(mutated)))
        kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if kind == "insert":
            mutated = mutated[:at] + data.draw(noise) + mutated[at:]
        elif at < len(mutated):
            mutated = mutated[:at] + (data.draw(noise) if kind == "replace" else "") + mutated[at + 1:]
    if mutated == token:
        return
    with pytest.raises(JWTInvalid):  # nothing else: no crash on any input
        check(mutated, keys)


@PROPERTY
@given(position=st.integers(0, 63), bit=st.integers(0, 7))
def test_a_flipped_signature_bit_never_verifies(es: ECKey, keys: KeySet, position: int, bit: int) -> None:
    token = es256_token(es)
    head, claims, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[position] ^= 1 << bit
    with pytest.raises(JWTInvalid, match="signature"):
        check(f"{head}.{claims}.{b64url(bytes(raw))}", keys)


def test_tampered_payload_and_header(es: ECKey, keys: KeySet) -> None:
    head, _, sig = es256_token(es).split(".")
    with pytest.raises(JWTInvalid, match="signature"):
        check(f"{head}.{b64json({**CLAIMS, 'sub': 'mallory'})}.{sig}", keys)
    _, claims, sig = es256_token(es).split(".")
    with pytest.raises(JWTInvalid, match="signature"):
        check(f"{b64json({'alg': 'ES256', 'typ': 'at+jwt', 'kid': 'es', 'x': 1})}.{claims}.{sig}", keys)


# -- algorithm confusion -------------------------------------------------------------------------------

def test_alg_none(keys: KeySet) -> None:
    for signature in ("", "AAAA"):
        token = f"{b64json({'alg': 'none', 'typ': 'at+jwt'})}.{b64json(CLAIMS)}.{signature}"
        with pytest.raises(JWTInvalid, match="not allowed"):
            check(token, keys, ("ES256", "none"))


@pytest.mark.parametrize("secret_form", ["pem", "jwk-json", "n"])
def test_hs256_with_the_public_key_as_secret(rs: RSAKey, keys: KeySet, secret_form: str) -> None:
    from cryptography.hazmat.primitives import serialization

    public = rs.public_key
    secret = {
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": json.dumps(rs.as_dict(private=False)).encode(),
        "n": str(rs.as_dict(private=False)["n"]).encode(),
    }[secret_form]
    for header in ({"alg": "HS256", "typ": "at+jwt", "kid": "rs"}, {"alg": "HS256", "typ": "at+jwt"}):
        signing_input = f"{b64json(header)}.{b64json(CLAIMS)}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(JWTInvalid, match="not allowed"):
            check(f"{signing_input}.{b64url(mac)}", keys, ("RS256", "HS256"))


def test_rs256_token_against_the_es256_pinned_key(rs: RSAKey, keys: KeySet) -> None:
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "es"}, CLAIMS, rs)
    with pytest.raises(JWTInvalid, match="pinned"):
        check(token, keys)


def test_an_unpinned_key_of_another_type_does_not_verify(rs: RSAKey, es: ECKey) -> None:
    unpinned = {k: v for k, v in es.as_dict(private=False).items() if k != "alg"}
    keyset = KeySet.import_key_set({"keys": [unpinned]})
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "es"}, CLAIMS, rs)
    with pytest.raises(JWTInvalid, match="signature"):
        check(token, keyset)


@pytest.mark.parametrize(("crv", "alg"), [("P-384", "ES256"), ("P-521", "ES256"), ("P-256", "ES384")])
def test_a_key_of_another_curve(crv: str, alg: str) -> None:
    key = ECKey.generate_key(crv, parameters={"kid": "k"}, private=True)  # no alg: only the curve decides
    keyset = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    size = {"ES256": 32, "ES384": 48}[alg]
    ones = b"\x01" * 2 * size  # the right length for the token's algorithm, not for the key's curve
    forged = f"{b64json({'alg': alg, 'typ': 'at+jwt', 'kid': 'k'})}.{b64json(CLAIMS)}.{b64url(ones)}"
    with pytest.raises(JWTInvalid, match="signature"):
        check(forged, keyset, (alg,))
    if alg == "ES256":  # a real P-256 signature, presented with the other curve's key
        signer = ECKey.generate_key("P-256", parameters={"kid": "k"}, private=True)
        with pytest.raises(JWTInvalid, match="signature"):
            check(es256_token(signer, header={"alg": alg, "typ": "at+jwt", "kid": "k"}), keyset, (alg,))


# -- ECDSA signature values ----------------------------------------------------------------------------

@pytest.mark.parametrize("length", [0, 1, 63, 65, 96, 128])
def test_es256_signature_of_the_wrong_length(es: ECKey, keys: KeySet, length: int) -> None:
    good = base64.urlsafe_b64decode(es256_token(es).rsplit(".", 1)[1] + "==")
    raw = (good * 3)[:length]
    head, claims, _ = es256_token(es).split(".")
    token = f"{head}.{claims}.{b64url(raw)}"
    with pytest.raises(JWTInvalid):
        check(token, keys)
    with pytest.raises(Exception):  # noqa: B017 - the oracle refuses too, with its own error
        jwt.decode(token, keys, algorithms=["ES256"])


def test_der_signature_is_not_accepted(es: ECKey, keys: KeySet) -> None:
    token = es256_token(es)
    r, s = rs_of(token)
    head, claims, _ = token.split(".")
    with pytest.raises(JWTInvalid):
        check(f"{head}.{claims}.{b64url(encode_dss_signature(r, s))}", keys)


@pytest.mark.parametrize(
    "change",
    [
        lambda r, s: (0, s),
        lambda r, s: (r, 0),
        lambda r, s: (r + P256_ORDER, s) if r + P256_ORDER < 2**256 else (P256_ORDER, s),
        lambda r, s: (r, s + P256_ORDER) if s + P256_ORDER < 2**256 else (r, P256_ORDER),
        lambda r, s: (P256_ORDER, s),
        lambda r, s: (r, P256_ORDER),
        lambda r, s: (2**256 - 1, 2**256 - 1),
    ],
    ids=["r=0", "s=0", "r+n", "s+n", "r=n", "s=n", "all-ones"],
)
def test_ecdsa_integers_out_of_range(es: ECKey, keys: KeySet, change: Any) -> None:
    token = es256_token(es)
    forged = es256_token(es, r_s=change(*rs_of(token)))
    with pytest.raises(JWTInvalid, match="signature"):
        check(forged, keys)


def test_high_s_is_the_same_signature_as_for_joserfc(es: ECKey, keys: KeySet) -> None:
    """ECDSA is malleable: (r, n - s) signs the same message. JOSE (RFC 7518 §3.4) does not ask
    for low s and half of all honest signatures are high, so the twin verifies, as with joserfc.
    It is not a forgery: header and claims are unchanged, and Deputy identifies tokens by jti,
    never by their signature bytes."""
    token = es256_token(es)
    r, s = rs_of(token)
    twin = es256_token(es, r_s=(r, P256_ORDER - s))
    assert check(twin, keys) == check(token, keys)
    assert jwt.decode(twin, keys, algorithms=["ES256"]).claims == CLAIMS


@pytest.mark.parametrize(("alg", "curve"), [("ES256", ec.SECP256R1()), ("ES384", ec.SECP384R1()),
                                            ("ES512", ec.SECP521R1())])
def test_the_group_orders_are_right(alg: str, curve: ec.EllipticCurve) -> None:
    """(r, n - s) verifies with cryptography itself only if n is the curve's order."""
    private = ec.generate_private_key(curve)
    hash_alg = _ECDSA[alg][1]
    r, s = decode_dss_signature(private.sign(b"message", hash_alg))
    private.public_key().verify(encode_dss_signature(r, _ECDSA[alg][3] - s), b"message", hash_alg)


# -- shape -------------------------------------------------------------------------------------------

def test_padding_in_any_segment(es: ECKey, keys: KeySet) -> None:
    parts = es256_token(es, claims={**CLAIMS, "x": "y"}).split(".")
    for i in range(3):
        for pad in ("=", "==", "==="):
            padded = list(parts)
            padded[i] += pad
            with pytest.raises(JWTInvalid, match="compact JWS"):
                check(".".join(padded), keys)


@pytest.mark.parametrize("shape", ["{t}.", "{t}.x", "{t}..", ".{t}", "{h}.{c}", "{h}", "{h}..{s}", "{t}.{s}"])
def test_other_than_three_segments(es: ECKey, keys: KeySet, shape: str) -> None:
    token = es256_token(es)
    h, c, s = token.split(".")
    with pytest.raises(JWTInvalid, match="compact JWS"):
        check(shape.format(t=token, h=h, c=c, s=s), keys)


@pytest.mark.parametrize("char", ["+", "/", " ", "\n", "é", "%"])
def test_characters_outside_base64url(es: ECKey, keys: KeySet, char: str) -> None:
    token = es256_token(es)
    for at in (5, len(token) // 2, len(token) - 3):
        with pytest.raises(JWTInvalid):
            check(token[:at] + char + token[at:], keys)


def test_only_the_canonical_spelling_of_a_signature(es: ECKey, keys: KeySet) -> None:
    """86 characters carry 64 bytes and 4 spare bits: a different last character that decodes to
    the same bytes is another token, and is refused (joserfc would accept it)."""
    token = es256_token(es)
    last = token[-1]
    sibling = ALPHABET[ALPHABET.index(last) + 1]  # the canonical characters have the spare bits at 0
    assert base64.urlsafe_b64decode(token.rsplit(".", 1)[1][:-1] + sibling + "==") == \
        base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "==")
    with pytest.raises(JWTInvalid, match="canonical"):
        check(token[:-1] + sibling, keys)


@pytest.mark.parametrize(
    "raw_header",
    [b"not json", b"[1,2]", b'"alg"', b"null", b'{"alg":"ES256"', b"\xff\xfe{}", b'{"alg":NaN}',
     '{"alg":"ES256"}'.encode("utf-16"), b'{"alg":"ES256","alg":"none"}', b'{"alg":"none","alg":"ES256"}'],
)
def test_header_not_a_json_object(es: ECKey, keys: KeySet, raw_header: bytes) -> None:
    token = es256_token(es)
    _, claims, sig = token.split(".")
    with pytest.raises(JWTInvalid):
        check(f"{b64url(raw_header)}.{claims}.{sig}", keys)


@pytest.mark.parametrize("raw_claims", [b"[]", b"1", b"not json", b'{"exp":Infinity}', b"\xc3\x28"])
def test_claims_not_a_json_object(es: ECKey, keys: KeySet, raw_claims: bytes) -> None:
    head = b64json({"alg": "ES256", "typ": "at+jwt", "kid": "es"})
    with pytest.raises(JWTInvalid):
        check(f"{head}.{b64url(raw_claims)}.{b64url(b'x' * 64)}", keys)


@pytest.mark.parametrize("crit", [["exp"], [], 1, None, ["b64"], "exp"])
def test_crit_is_refused(es: ECKey, keys: KeySet, crit: object) -> None:
    token = es256_token(es, header={"alg": "ES256", "typ": "at+jwt", "kid": "es", "crit": crit, "exp": 1})
    with pytest.raises(JWTInvalid, match="crit"):
        check(token, keys)


def test_b64_false_is_refused(es: ECKey, keys: KeySet) -> None:
    token = es256_token(es, header={"alg": "ES256", "typ": "at+jwt", "kid": "es", "b64": False})
    with pytest.raises(JWTInvalid, match="b64"):
        check(token, keys)


@pytest.mark.parametrize("header", [{"alg": 1}, {"alg": None}, {"kid": 5}, {"kid": None}, {"typ": ["at+jwt"]},
                                    {"jwk": "x"}, {"x5c": "x"}, {"cty": 1}])
def test_registered_header_parameters_of_the_wrong_type(es: ECKey, keys: KeySet, header: dict[str, Any]) -> None:
    token = es256_token(es, header={"alg": "ES256", "typ": "at+jwt", "kid": "es", **header})
    with pytest.raises(JWTInvalid):
        check(token, keys)


def test_no_alg(es: ECKey, keys: KeySet) -> None:
    with pytest.raises(JWTInvalid, match="alg"):
        check(es256_token(es, header={"typ": "at+jwt", "kid": "es"}), keys)


# -- kid --------------------------------------------------------------------------------------------

def test_unknown_kid(es: ECKey, keys: KeySet) -> None:
    with pytest.raises(JWTInvalid, match="unknown kid"):
        check(es256_token(es, header={"alg": "ES256", "typ": "at+jwt", "kid": "other"}), keys)


def test_missing_kid_tries_the_keys_of_that_algorithm(es: ECKey, keys: KeySet) -> None:
    assert check(es256_token(es, header={"alg": "ES256", "typ": "at+jwt"}), keys)["sub"] == "jane"
    stranger = ECKey.generate_key("P-256", private=True)
    with pytest.raises(JWTInvalid, match="signature"):
        check(es256_token(stranger, header={"alg": "ES256", "typ": "at+jwt"}), keys)


def test_missing_kid_with_no_key_for_the_algorithm(es: ECKey, rs: RSAKey) -> None:
    only_rsa = KeySet.import_key_set({"keys": [rs.as_dict(private=False)]})
    with pytest.raises(JWTInvalid, match="no usable key"):
        check(es256_token(es, header={"alg": "ES256", "typ": "at+jwt"}), only_rsa)


def test_duplicate_kid_in_a_published_set_keeps_the_first(es: ECKey) -> None:
    impostor = ECKey.generate_key("P-256", parameters={"kid": "es", "alg": "ES256"}, private=True)
    keyset = import_public_jwks({"keys": [es.as_dict(private=False), impostor.as_dict(private=False)]})
    assert len(keyset.keys) == 1
    assert check(es256_token(es), keyset)["sub"] == "jane"
    with pytest.raises(JWTInvalid, match="signature"):
        check(es256_token(impostor), keyset)


def test_duplicate_kid_in_a_key_set_uses_only_the_first() -> None:
    first = ECKey.generate_key("P-256", parameters={"kid": "k", "alg": "ES256"}, private=True)
    second = ECKey.generate_key("P-256", parameters={"kid": "k", "alg": "ES256"}, private=True)
    keyset = KeySet([first, second])
    with pytest.raises(JWTInvalid, match="signature"):
        check(es256_token(second, header={"alg": "ES256", "typ": "at+jwt", "kid": "k"}), keyset, ("ES256",))


# -- parse_jws ----------------------------------------------------------------------------------------

def test_parse_jws_parts(es: ECKey) -> None:
    token = es256_token(es)
    jws = parse_jws(token)
    assert jws.header == {"alg": "ES256", "typ": "at+jwt", "kid": "es"}
    assert jws.claims == CLAIMS
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    assert len(jws.signature) == 64


def test_a_parsed_token_verifies_like_the_string(es: ECKey, keys: KeySet) -> None:
    token = es256_token(es)
    assert check(token, keys) == dict(verify_jwt(parse_jws(token), keys, algorithms=["ES256"], now=NOW,
                                                 typ="at+jwt").claims)


def test_parsed_headers_are_shared_read_only_and_bounded(es: ECKey, keys: KeySet) -> None:
    from deputy.jose import compact

    first, second = parse_jws(es256_token(es)), parse_jws(es256_token(es))
    assert first.header is second.header  # the same encoded header is parsed once
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]
    with_object = parse_jws(es256_token(es, header={"alg": "ES256", "typ": "at+jwt", "kid": "es", "jwk": {}}))
    assert with_object.header is not parse_jws(es256_token(es, header={**with_object.header})).header
    for i in range(compact._MAX_HEADERS + 5):
        parse_jws(es256_token(es, header={"alg": "ES256", "typ": "at+jwt", "kid": f"k{i}"}))
    assert len(compact._HEADERS) <= compact._MAX_HEADERS
    with pytest.raises(JWTInvalid, match="crit"):  # a refused header is never cached as good
        parse_jws(es256_token(es, header={"alg": "ES256", "crit": ["x"], "x": "y"}))
    with pytest.raises(JWTInvalid, match="crit"):
        parse_jws(es256_token(es, header={"alg": "ES256", "crit": ["x"], "x": "y"}))


@pytest.mark.parametrize("params", [{"use": "enc"}, {"key_ops": ["sign"]}, {"key_ops": ["encrypt"]}])
def test_a_key_not_for_verifying_signatures(es: ECKey, params: dict[str, Any]) -> None:
    """Keys that do not come through import_public_jwks (e.g. a client's registered keys)."""
    from joserfc.jwk import import_key

    key = import_key({**es.as_dict(private=False), **params})
    with pytest.raises(JWTInvalid, match="signature"):
        check(es256_token(es), KeySet([key]))
    assert check(es256_token(es), KeySet([import_key({**es.as_dict(private=False), "key_ops": ["verify"]})]))
