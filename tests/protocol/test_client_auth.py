"""Client authentication at the token endpoint: secrets (RFC 6749 §2.3.1) and private_key_jwt
(RFC 7523 §2.2, §3) with jti replay protection."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import pytest
from joserfc.jwk import ECKey

from deputy.clock import FixedClock
from deputy.constants import CLIENT_ASSERTION_TYPE_JWT_BEARER
from deputy.errors import InvalidClient, InvalidRequest, UnauthorizedClient
from deputy.protocol.request import FormRequest
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.helpers import basic, form
from tests.protocol.support import (
    assert_refused,
    assertion_params,
    client_assertion,
    events,
    new_client_key,
    register_key,
    unsigned_jwt,
)

TOKEN_ENDPOINT = f"{ISSUER}/token"
CC = {"grant_type": "client_credentials", "resource": INCIDENTS}
CC_TRIAGE = {"grant_type": "client_credentials"}


def cc_with(params: dict[str, str], auth: tuple[str, str] | None = None, authorization: str | None = None) -> FormRequest:
    request = form({**CC, **params}, auth)
    if authorization is not None:
        request = FormRequest(request.params, authorization)
    return request


# -- client secrets ---------------------------------------------------------------------------------

def test_client_secret_basic(deputy: Deputy) -> None:
    response = deputy.token.handle(form(CC, AGENT))
    assert response.status == 200
    issued = events(deputy, "token.issued")[-1]
    assert issued.client_id == "incident-agent"
    assert issued.data["client_auth"] == "client_secret_basic"


def test_client_secret_post(deputy: Deputy) -> None:
    response = deputy.token.handle(form({**CC, "client_id": AGENT[0], "client_secret": AGENT[1]}))
    assert response.status == 200
    assert events(deputy, "token.issued")[-1].data["client_auth"] == "client_secret_post"


def test_basic_credentials_are_form_urlencoded(deputy: Deputy) -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined with ':'."""
    secret = "p@ss:w rd+&=%/42-long-enough"
    deputy.admin("test").set_secret("incident-agent", secret)
    raw = f"{quote_plus('incident-agent')}:{quote_plus(secret)}"
    header = "Basic " + base64.b64encode(raw.encode()).decode()
    assert deputy.token.handle(cc_with({}, authorization=header)).status == 200
    # The same secret, not encoded, is a different secret.
    raw_plain = "Basic " + base64.b64encode(f"incident-agent:{secret}".encode()).decode()
    with pytest.raises(InvalidClient):
        deputy.token.handle(cc_with({}, authorization=raw_plain))


@pytest.mark.parametrize("post", [False, True])
def test_wrong_secret(deputy: Deputy, post: bool) -> None:
    request = form({**CC, "client_id": AGENT[0], "client_secret": "wrong"}) if post else form(CC, (AGENT[0], "wrong"))
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(request)
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_invalid")


def test_another_agents_secret_is_refused(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(CC, (AGENT[0], TRIAGE[1])))
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_invalid")


def test_unknown_client(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(CC, ("nobody", "some-secret-value")))
    assert exc.value.status_code == 401
    event = assert_refused(deputy, exc.value, "invalid_client", "client_unknown")
    assert event.client_id == "nobody"


def test_no_client_authentication(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(CC))
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_auth_missing")


def test_client_id_alone_is_not_authentication(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form({**CC, "client_id": "incident-agent"}))
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_missing")


def test_two_methods_at_once_are_refused(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({**CC, "client_id": AGENT[0], "client_secret": AGENT[1]}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "client_auth_multiple")


def test_basic_with_a_different_body_client_id(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({**CC, "client_id": "triage-agent"}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "invalid_parameter")


def test_basic_with_the_same_body_client_id(deputy: Deputy) -> None:
    assert deputy.token.handle(form({**CC, "client_id": "incident-agent"}, AGENT)).status == 200


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":secret-without-id").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_malformed_basic_credentials(deputy: Deputy, header: str) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(cc_with({}, authorization=header))
    assert exc.value.reason == "client_secret_invalid"
    assert exc.value.status_code == 401


def test_post_secret_without_client_id(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form({**CC, "client_secret": AGENT[1]}))
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_invalid")


def test_rotated_secret_replaces_the_old_one(deputy: Deputy) -> None:
    issued = deputy.admin("test").new_secret("incident-agent", replace_existing=True)
    assert deputy.token.handle(form(CC, ("incident-agent", issued.secret.reveal()))).status == 200
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(CC, AGENT))
    assert exc.value.reason == "client_secret_invalid"


def test_added_secret_works_beside_the_old_one(deputy: Deputy) -> None:
    issued = deputy.admin("test").new_secret("incident-agent")
    assert deputy.token.handle(form(CC, ("incident-agent", issued.secret.reveal()))).status == 200
    assert deputy.token.handle(form(CC, AGENT)).status == 200


def test_expired_secret_is_refused(deputy: Deputy, clock: FixedClock) -> None:
    from deputy.realm import AgentSecret
    from deputy.secret import hash_secret

    secret = "a-secret-with-an-expiry-date"
    with deputy.store.db.write() as conn:
        deputy.store.realm.add_secret(
            conn, "triage-agent", AgentSecret("short", hash_secret(secret), clock.now(), clock.now() + 60)
        )
    assert deputy.token.handle(form(CC_TRIAGE, ("triage-agent", secret))).status == 200
    clock.advance(60)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(CC_TRIAGE, ("triage-agent", secret)))
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_invalid")
    assert deputy.token.handle(form(CC_TRIAGE, TRIAGE)).status == 200  # the other secret still works


def test_secret_of_suspended_agent_authenticates_but_is_unauthorized(deputy: Deputy) -> None:
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    with pytest.raises(UnauthorizedClient) as exc:
        deputy.token.handle(form(CC, AGENT))
    assert exc.value.status_code == 400
    assert_refused(deputy, exc.value, "unauthorized_client", "client_not_active")


def test_secret_never_reaches_the_audit_trail(deputy: Deputy) -> None:
    deputy.token.handle(form(CC, AGENT))
    with pytest.raises(InvalidClient):
        deputy.token.handle(form(CC, (AGENT[0], "a-wrong-secret-value")))
    for record in deputy.store.audit.records():
        text = repr(record.event.to_dict())
        assert AGENT[1] not in text
        assert "a-wrong-secret-value" not in text


# -- private_key_jwt ----------------------------------------------------------------------------

@pytest.fixture
def key(deputy: Deputy) -> ECKey:
    k = new_client_key("k1")
    register_key(deputy, "incident-agent", k)
    return k


def pkj(deputy: Deputy, assertion: str, **params: str) -> FormRequest:
    return form({**CC, **assertion_params(assertion), **params})


@pytest.mark.parametrize("aud", [TOKEN_ENDPOINT, ISSUER, [ISSUER, "https://other.example"]])
def test_private_key_jwt_accepted_audiences(deputy: Deputy, clock: FixedClock, key: ECKey, aud: str | list[str]) -> None:
    assertion = client_assertion(key, "incident-agent", aud, clock.now())
    response = deputy.token.handle(pkj(deputy, assertion))
    assert response.status == 200
    assert events(deputy, "token.issued")[-1].data["client_auth"] == "private_key_jwt"


def test_private_key_jwt_with_matching_body_client_id(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now())
    assert deputy.token.handle(pkj(deputy, assertion, client_id="incident-agent")).status == 200


@pytest.mark.parametrize(
    "aud",
    [
        "https://evil.example/token",
        f"{ISSUER}/introspect",  # another endpoint of ours, not the one being called
        f"{ISSUER}/",
        f"{ISSUER}/token/",
        ISSUER.upper(),
        ["https://evil.example"],
    ],
)
def test_private_key_jwt_wrong_audience(deputy: Deputy, clock: FixedClock, key: ECKey, aud: str | list[str]) -> None:
    assertion = client_assertion(key, "incident-agent", aud, clock.now())
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


def test_private_key_jwt_aud_of_the_introspection_endpoint_works_there(
    deputy: Deputy, clock: FixedClock, key: ECKey
) -> None:
    assertion = client_assertion(key, "incident-agent", f"{ISSUER}/introspect", clock.now())
    body = deputy.introspection.handle(form({"token": "x", **assertion_params(assertion)})).body
    assert body == {"active": False}


def test_private_key_jwt_replay(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), jti="once")
    assert deputy.token.handle(pkj(deputy, assertion)).status == 200
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_replayed")


def test_private_key_jwt_new_assertion_with_a_used_jti(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    first = client_assertion(key, "incident-agent", ISSUER, clock.now(), jti="same")
    deputy.token.handle(pkj(deputy, first))
    clock.advance(5)
    second = client_assertion(key, "incident-agent", TOKEN_ENDPOINT, clock.now(), jti="same")
    assert second != first
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, second))
    assert exc.value.reason == "client_assertion_replayed"


def test_private_key_jwt_replay_across_endpoints(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), jti="x-endpoint")
    deputy.introspection.handle(form({"token": "x", **assertion_params(assertion)}))
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_replayed"


def test_private_key_jwt_jti_is_per_client(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    other = new_client_key("t1")
    register_key(deputy, "triage-agent", other)
    assert deputy.token.handle(pkj(deputy, client_assertion(key, "incident-agent", ISSUER, clock.now(), jti="j"))).status == 200
    assert deputy.token.handle(pkj(deputy, client_assertion(other, "triage-agent", ISSUER, clock.now(), jti="j"))).status == 200


def test_private_key_jwt_expired(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now() - 200, lifetime=60)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


def test_private_key_jwt_expires_while_in_use(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), lifetime=60)
    clock.advance(60 + deputy.settings.clock_leeway)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_within_leeway(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), lifetime=60)
    clock.advance(60 + deputy.settings.clock_leeway - 1)
    assert deputy.token.handle(pkj(deputy, assertion)).status == 200


def test_private_key_jwt_missing_jti(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), jti=None)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


@pytest.mark.parametrize("jti", ["", 42])
def test_private_key_jwt_jti_must_be_a_non_empty_string(deputy: Deputy, clock: FixedClock, key: ECKey, jti: object) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), jti=jti)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_missing_exp(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    from joserfc import jwt

    claims = {"iss": "incident-agent", "sub": "incident-agent", "aud": ISSUER, "jti": "no-exp", "iat": clock.now()}
    assertion = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, key, algorithms=["ES256"])
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_exp_too_far_ahead(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    lifetime = deputy.settings.assertion_max_lifetime + 1
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), lifetime=lifetime)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_not_yet_valid(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), nbf=clock.now() + 120)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_signed_by_an_unregistered_key(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    rogue = new_client_key("k1")  # same kid, different key
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, client_assertion(rogue, "incident-agent", ISSUER, clock.now())))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


def test_private_key_jwt_with_another_agents_key(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    """triage-agent signs with its own registered key but claims to be incident-agent."""
    other = new_client_key("t1")
    register_key(deputy, "triage-agent", other)
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, client_assertion(other, "incident-agent", ISSUER, clock.now())))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_for_an_agent_without_keys(deputy: Deputy, clock: FixedClock) -> None:
    rogue = new_client_key("k1")
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, client_assertion(rogue, "triage-agent", ISSUER, clock.now())))
    assert_refused(deputy, exc.value, "invalid_client", "client_auth_method_not_allowed")


def test_private_key_jwt_unknown_client(deputy: Deputy, clock: FixedClock) -> None:
    rogue = new_client_key("k1")
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, client_assertion(rogue, "ghost-agent", ISSUER, clock.now())))
    assert_refused(deputy, exc.value, "invalid_client", "client_unknown")


def test_private_key_jwt_iss_must_equal_sub(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), iss="triage-agent")
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_body_client_id_mismatch(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now())
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion, client_id="triage-agent"))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_wrong_assertion_type(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now())
    request = form({**CC, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe",
                    "client_assertion": assertion})
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(request)
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_type_without_assertion(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({**CC, "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER}))
    assert exc.value.reason == "missing_parameter"


@pytest.mark.parametrize("assertion", ["not-a-jwt", "a.b.c", "e30.e30"])
def test_private_key_jwt_garbage(deputy: Deputy, assertion: str) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


def test_private_key_jwt_alg_none(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    claims = {"iss": "incident-agent", "sub": "incident-agent", "aud": ISSUER, "jti": "n", "exp": clock.now() + 60}
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, unsigned_jwt({"alg": "none", "kid": "k1"}, claims)))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "dpop+jwt", "oauth-id-jag+jwt"])
def test_private_key_jwt_with_a_confusable_typ(deputy: Deputy, clock: FixedClock, key: ECKey, typ: str) -> None:
    """A JWT typed as another kind of token (pitfall 7) is not a client assertion."""
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), header={"typ": typ})
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, assertion))
    assert exc.value.reason == "client_assertion_invalid"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "client-authentication+jwt"])
def test_private_key_jwt_with_a_plain_typ(deputy: Deputy, clock: FixedClock, key: ECKey, typ: str) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now(), header={"typ": typ})
    assert deputy.token.handle(pkj(deputy, assertion)).status == 200


def test_private_key_jwt_after_key_removal(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    deputy.admin("test").remove_key("incident-agent", "k1")
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(pkj(deputy, client_assertion(key, "incident-agent", ISSUER, clock.now())))
    assert exc.value.reason == "client_auth_method_not_allowed"


def test_private_key_jwt_with_two_keys(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    second = new_client_key("k2")
    register_key(deputy, "incident-agent", second)
    assert deputy.token.handle(pkj(deputy, client_assertion(key, "incident-agent", ISSUER, clock.now()))).status == 200
    assert deputy.token.handle(pkj(deputy, client_assertion(second, "incident-agent", ISSUER, clock.now()))).status == 200


def test_private_key_jwt_refused_attempt_does_not_burn_the_jti(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    """A forged assertion with a victim's jti must not lock out the real one."""
    rogue = new_client_key("k1")
    with pytest.raises(InvalidClient):
        deputy.token.handle(pkj(deputy, client_assertion(rogue, "incident-agent", ISSUER, clock.now(), jti="victim")))
    real = client_assertion(key, "incident-agent", ISSUER, clock.now(), jti="victim")
    assert deputy.token.handle(pkj(deputy, real)).status == 200


def test_private_key_jwt_and_secret_together(deputy: Deputy, clock: FixedClock, key: ECKey) -> None:
    assertion = client_assertion(key, "incident-agent", ISSUER, clock.now())
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({**CC, **assertion_params(assertion)}, AGENT))
    assert exc.value.reason == "client_auth_multiple"


def test_basic_header_helper_round_trip() -> None:
    assert basic("a", "b") == "Basic " + base64.b64encode(b"a:b").decode()
