"""Property-based attacks on the token endpoint, without HTTP: random parameter combinations
(grant types, missing, repeated, oversized and undecodable values, random tokens) and malformed
JWTs in every slot that takes one (bad base64, ``none``, HMAC with the public key, a stranger's
key under our ``kid``, huge headers, deeply nested ``act``). Whatever comes in: no exception but
an OAuth error from the allowed set with its fixed text, and never a token it should not issue."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.constants import (
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER,
    GRANT_JWT_BEARER_UNDERSCORE,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    REQUESTED_TOKEN_USE_OBO,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
    TOKEN_TYPE_JWT,
    TOKEN_TYPE_REFRESH_TOKEN,
)
from deputy.errors import PUBLIC_TEXT, OAuthError
from deputy.protocol.request import FormRequest
from deputy.protocol.response import Response
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, AGENT, DEV_REALM, INCIDENTS, ISSUER, TRIAGE

FORM = "application/x-www-form-urlencoded"
# What the token endpoint may answer with (RFC 6749 §5.2, RFC 8707 §2): never server_error.
ALLOWED = {
    "invalid_request": {400}, "invalid_client": {401}, "invalid_grant": {400}, "unauthorized_client": {400},
    "unsupported_grant_type": {400}, "invalid_scope": {400}, "invalid_target": {400}, "access_denied": {403},
}
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz_deputy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deputy]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    deputy = Deputy.open(Settings(issuer=ISSUER, home=home, admin_token=ADMIN_TOKEN), FixedClock(int(time.time())))
    load_realm(deputy.admin("test"), read_realm_file(DEV_REALM))
    yield deputy
    deputy.close()


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def answer(deputy: Deputy, pairs: list[tuple[str, str]], authorization: str | None) -> Response | OAuthError:
    """The endpoint's answer, through the same parser the HTTP layer uses."""
    try:
        request = FormRequest.from_body(urlencode(pairs).encode(), FORM, authorization, "127.0.0.1")
        return deputy.token.handle(request)
    except OAuthError as error:
        return error


def assert_refused(outcome: Response | OAuthError) -> OAuthError:
    assert isinstance(outcome, OAuthError), f"a token was issued: {outcome}"
    assert outcome.error in ALLOWED, (outcome.error, outcome.reason, outcome.detail)
    assert outcome.status_code in ALLOWED[outcome.error], outcome
    assert outcome.description == PUBLIC_TEXT[outcome.reason]
    return outcome


# -- parameter combinations ----------------------------------------------------------------------
NAMES = (
    "grant_type", "subject_token", "subject_token_type", "actor_token", "actor_token_type", "audience",
    "resource", "scope", "requested_token_type", "client_id", "client_secret", "client_assertion",
    "client_assertion_type", "assertion", "code", "redirect_uri", "code_verifier", "refresh_token",
    "requested_token_use",
)
KNOWN_VALUES = (
    GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER, GRANT_JWT_BEARER_UNDERSCORE, GRANT_CLIENT_CREDENTIALS,
    GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, "password", "implicit", "urn:openid:params:grant-type:ciba",
    TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_REFRESH_TOKEN,
    CLIENT_ASSERTION_TYPE_JWT_BEARER, REQUESTED_TOKEN_USE_OBO, INCIDENTS, "triage-agent", AGENT[0], AGENT[1],
    TRIAGE[1], "incidents:read", "incidents:read hr:read", "openid offline_access", "", " ", "\x00",
    "https://evil.example/#frag", "relative/path", "http://127.0.0.1:8000/token", ISSUER, "a" * 5000, "é☃\ud7ff",
)
b64_text = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.", max_size=80)
jwt_like = st.tuples(b64_text, b64_text, b64_text).map(".".join)
value = st.one_of(st.sampled_from(KNOWN_VALUES), st.text(max_size=60), jwt_like)
name = st.one_of(st.sampled_from(NAMES), st.text(max_size=12))
authorization = st.one_of(
    st.none(),
    st.just(_basic(*AGENT)),
    st.just(_basic(AGENT[0], "wrong-secret")),
    st.just(_basic(*TRIAGE)),
    st.text(max_size=40).map(lambda t: "Basic " + t),
    st.text(max_size=40).map(lambda t: "Bearer " + t),
    st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode()),
)


@FUZZ
@given(pairs=st.lists(st.tuples(name, value), max_size=12), auth=authorization)
def test_any_parameter_combination_gets_an_oauth_error_or_a_recorded_client_token(
    fuzz_deputy: Deputy, pairs: list[tuple[str, str]], auth: str | None
) -> None:
    outcome = answer(fuzz_deputy, pairs, auth)
    if isinstance(outcome, Response):
        # Only client_credentials needs nothing but valid client credentials: a token is fine,
        # if (and only if) it was asked for that way and recorded before the answer.
        assert [v for k, v in pairs if k == "grant_type"] == [GRANT_CLIENT_CREDENTIALS], pairs
        payload = outcome.body["access_token"].split(".")[1]
        jti = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
        assert fuzz_deputy.store.tokens.get_token(jti) is not None
        return
    assert_refused(outcome)


@FUZZ
@given(grant=st.sampled_from([GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER]), repeat=st.sampled_from(NAMES),
       times=st.integers(2, 4))
def test_a_repeated_parameter_is_refused(fuzz_deputy: Deputy, grant: str, repeat: str, times: int) -> None:
    pairs = [("grant_type", grant), ("subject_token", "x.y.z"), ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
             ("audience", INCIDENTS)]
    pairs += [(repeat, INCIDENTS)] * times
    refused = assert_refused(answer(fuzz_deputy, pairs, _basic(*AGENT)))
    assert refused.error in ("invalid_request", "invalid_client", "invalid_target")


def test_oversized_and_undecodable_bodies(fuzz_deputy: Deputy) -> None:
    big = [("grant_type", GRANT_TOKEN_EXCHANGE), ("subject_token", "a" * 70_000)]
    assert assert_refused(answer(fuzz_deputy, big, _basic(*AGENT))).reason == "request_too_large"
    try:
        FormRequest.from_body(b"grant_type=\xff\xfe", FORM, _basic(*AGENT))
    except OAuthError as error:
        assert_refused(error)
    else:
        raise AssertionError("an undecodable body was accepted")


# -- malformed JWTs --------------------------------------------------------------------------------
ATTACKER = ECKey.generate_key("P-256", auto_kid=True)


def nested_act(depth: int) -> dict[str, object]:
    act: dict[str, object] = {"sub": "agent-0"}
    for i in range(1, depth):
        act = {"sub": f"agent-{i}", "act": act}
    return act


acts = st.recursive(
    st.fixed_dictionaries({"sub": st.sampled_from([AGENT[0], "triage-agent", "x"])}),
    lambda inner: st.fixed_dictionaries({"sub": st.sampled_from([AGENT[0], "triage-agent"]), "act": inner}),
    max_leaves=40,
) | st.integers(1, 60).map(nested_act) | st.sampled_from([[], "incident-agent", 7, None, {"act": {}}])
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["none", "None", "NONE", "HS256", "ES256", "RS256", "PS256", "EdDSA", "", "ES256K"]),
        "typ": st.sampled_from(["at+jwt", "JWT", "jwt", "", "oauth-id-jag+jwt", "application/at+jwt"]),
        "kid": st.sampled_from(["", "real", "../../etc/passwd", "x" * 2000]),
        "crit": st.lists(st.sampled_from(["exp", "b64", "zip"]), max_size=2),
        "jku": st.just("https://evil.example/jwks"),
        "jwk": st.just(ATTACKER.as_dict(private=False)),
        "zip": st.just("DEF"),
        "pad": st.text(max_size=20).map(lambda t: t * 500),  # huge headers
    },
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from([ISSUER, ISSUER + "/", "https://evil.example", "", None, 1]),
        "sub": st.sampled_from(["jane", "bob", AGENT[0], "", None, ["jane"], "a" * 3000]),
        "aud": st.sampled_from([AGENT[0], [AGENT[0]], ISSUER, INCIDENTS, [], 5, None]),
        "client_id": st.sampled_from([AGENT[0], "triage-agent", 3]),
        "exp": st.sampled_from([int(time.time()) + 300, 0, -1, 2**63, "soon", 1e308, None]),
        "iat": st.sampled_from([int(time.time()), 2**63, "now", -5]),
        "nbf": st.sampled_from([int(time.time()) + 10**6, "x"]),
        "jti": st.sampled_from(["j1", "", 5, None]),
        "scope": st.sampled_from(["incidents:read", ["incidents:read"], 3, "", "hr:read incidents:write"]),
        "act": acts,
        "may_act": st.sampled_from([{"sub": AGENT[0]}, {"sub": ["x"]}, "x", None]),
    },
)


@st.composite
def malformed_jwts(draw: st.DrawFn, deputy: Deputy) -> str:
    header = draw(headers)
    if header.get("kid") == "real":
        header["kid"] = deputy.store.keys.key_ring().active_kid("ES256")
    body = draw(claims)
    how = draw(st.sampled_from(["empty", "random", "attacker_es256", "hmac_public_key", "garbage_b64", "not_json"]))
    head, payload = _b64(json.dumps(header).encode()), _b64(json.dumps(body).encode())
    if how == "attacker_es256":
        # joserfc will not write crit/zip/unknown headers; the signature is what matters here
        header = {k: v for k, v in header.items() if k in ("typ", "kid", "jku", "jwk")}
        return jwt.encode({**header, "alg": "ES256"}, body, ATTACKER, algorithms=["ES256"])
    if how == "hmac_public_key":  # alg confusion: the server's public key as an HMAC secret
        import hashlib
        import hmac

        public = json.dumps(deputy.store.keys.key_ring().public_jwks()["keys"][0]).encode()
        head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
        return f"{head}.{payload}." + _b64(hmac.new(public, f"{head}.{payload}".encode(), hashlib.sha256).digest())
    if how == "garbage_b64":
        return f"{head}!!.{payload}%%.{draw(b64_text)}"
    if how == "not_json":
        return f"{_b64(b'{not json')}.{_b64(draw(st.binary(max_size=40)))}.{draw(b64_text)}"
    signature = "" if how == "empty" else _b64(draw(st.binary(min_size=1, max_size=96)))
    return f"{head}.{payload}.{signature}"


SLOTS = ("subject_token", "actor_token", "client_assertion", "assertion")


@FUZZ
@given(data=st.data(), slot=st.sampled_from(SLOTS))
def test_malformed_jwts_never_get_a_token(fuzz_deputy: Deputy, data: st.DataObject, slot: str) -> None:
    token = data.draw(malformed_jwts(fuzz_deputy))
    auth: str | None = _basic(*AGENT)
    if slot == "assertion":
        pairs = [("grant_type", GRANT_JWT_BEARER), ("assertion", token), ("requested_token_use", REQUESTED_TOKEN_USE_OBO),
                 ("scope", "incidents:read")]
    elif slot == "client_assertion":
        auth = None
        pairs = [("grant_type", GRANT_CLIENT_CREDENTIALS), ("resource", INCIDENTS), ("client_id", AGENT[0]),
                 ("client_assertion_type", CLIENT_ASSERTION_TYPE_JWT_BEARER), ("client_assertion", token)]
    else:
        subject = token if slot == "subject_token" else "x.y.z"
        pairs = [("grant_type", GRANT_TOKEN_EXCHANGE), ("subject_token", subject),
                 ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN), ("audience", INCIDENTS)]
        if slot == "actor_token":
            pairs += [("actor_token", token), ("actor_token_type", TOKEN_TYPE_ACCESS_TOKEN)]
    assert_refused(answer(fuzz_deputy, pairs, auth))


@pytest.mark.parametrize("depth", [100, 1000, 5000])
def test_absurdly_nested_act_in_a_token_is_refused_not_a_crash(fuzz_deputy: Deputy, depth: int) -> None:
    """Hand-built, not signed by anyone we trust: JSON nested deeper than Python's recursion
    limit must be a refusal, not a RecursionError turned into a 500."""
    raw = '{"iss": "' + ISSUER + '", "sub": "jane", "act": ' + '{"sub": "a", "act": ' * depth + '{"sub": "z"}' + "}" * (depth + 1)
    for header in ({"alg": "ES256", "typ": "at+jwt"}, {"alg": "none"}):
        token = f"{_b64(json.dumps(header).encode())}.{_b64(raw.encode())}.{_b64(b'sig')}"
        pairs = [("grant_type", GRANT_TOKEN_EXCHANGE), ("subject_token", token),
                 ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN), ("audience", INCIDENTS)]
        outcome = answer(fuzz_deputy, pairs, _basic(*AGENT))
        if depth * 20 > 64 * 1024:
            assert assert_refused(outcome).reason == "request_too_large"
        else:
            assert assert_refused(outcome).reason == "subject_token_invalid"
