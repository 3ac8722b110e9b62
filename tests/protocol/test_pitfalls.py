"""Every pitfall in SPECS.md ("Pitfalls found in real issue trackers"), attempted as an attack.

Each test makes the attack, checks that it is refused with the exact OAuth error code and reason,
and that the refusal reached the audit trail as a ``token.refused`` event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    UnauthorizedClient,
)
from deputy.realm import AgentStatus, Entitlement, Resource
from deputy.runtime import Deputy
from tests.conftest import (
    ACCESS_TOKEN_TYPE,
    ADMIN_TOKEN,
    AGENT,
    DEV_REALM,
    INCIDENTS,
    ISSUER,
    TRIAGE,
)
from tests.helpers import form
from tests.protocol.support import (
    add_agent,
    assert_refused,
    assertion_params,
    base_claims,
    claims_of,
    client_assertion,
    client_credentials,
    events,
    exchange,
    forge_own_token,
    hs256_jwt,
    introspect,
    is_active,
    new_client_key,
    register_key,
    set_grants,
    unsigned_jwt,
    user_token,
)

TOKEN_ENDPOINT = f"{ISSUER}/token"


def hop_to_triage(deputy: Deputy, user: str = "jane") -> str:
    """incident-agent, acting for the user, gets a token for triage-agent (scope incidents:read)."""
    return exchange(deputy, user_token(deputy, user), audience="triage-agent").body["access_token"]


def issued_count(deputy: Deputy) -> int:
    return len(events(deputy, "token.issued"))


# -- 1. scope escalation ------------------------------------------------------------------------------

def test_pitfall_1_downstream_scope_cannot_grow(deputy: Deputy) -> None:
    """triage-agent may hold incidents:write and jane has it, but the token it got carries read."""
    set_grants(deputy, "triage-agent", {INCIDENTS: ("incidents:read", "incidents:write")})
    downstream = hop_to_triage(deputy)
    assert claims_of(downstream)["scope"] == "incidents:read"
    before = issued_count(deputy)
    with pytest.raises(InvalidScope) as exc:
        exchange(deputy, downstream, TRIAGE, resource=INCIDENTS, scope="incidents:write")
    event = assert_refused(deputy, exc.value, "invalid_scope", "scope_empty")
    assert event.scope_requested == ("incidents:write",)
    assert event.client_id == "triage-agent"
    assert issued_count(deputy) == before


def test_pitfall_1_downstream_scope_is_narrowed(deputy: Deputy) -> None:
    set_grants(deputy, "triage-agent", {INCIDENTS: ("incidents:read", "incidents:write")})
    downstream = hop_to_triage(deputy)
    body = exchange(deputy, downstream, TRIAGE, resource=INCIDENTS, scope="incidents:read incidents:write").body
    assert body["scope"] == "incidents:read"
    assert claims_of(body["access_token"])["scope"] == "incidents:read"
    # and with no scope requested at all, still only what the subject token carries
    body = exchange(deputy, downstream, TRIAGE, resource=INCIDENTS).body
    assert claims_of(body["access_token"])["scope"] == "incidents:read"


@pytest.mark.parametrize("scope", [None, "", ["incidents:read", "incidents:write"], 42])
def test_pitfall_1_downstream_token_without_scope_fails_every_subset_check(deputy: Deputy, scope: object) -> None:
    """A genuine downstream token (signed by us, lineage recorded) that carries no usable scope."""
    set_grants(deputy, "triage-agent", {INCIDENTS: ("incidents:read", "incidents:write")})
    claims = base_claims(deputy, act={"sub": "incident-agent", "iss": ISSUER})
    if scope is not None:
        claims["scope"] = scope
    forged = forge_own_token(deputy, claims, mode="delegation", actors=("incident-agent",))
    assert is_active(deputy, forged)  # it is a live token of ours, not a broken one
    before = issued_count(deputy)
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, forged, TRIAGE, resource=INCIDENTS)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_without_scope")
    assert issued_count(deputy) == before


# -- 2. audience injection ----------------------------------------------------------------------------

@pytest.mark.parametrize("param", ["audience", "resource"])
def test_pitfall_2_unregistered_target(deputy: Deputy, param: str) -> None:
    subject = user_token(deputy)
    before = issued_count(deputy)
    with pytest.raises(InvalidTarget) as exc:
        exchange(deputy, subject, **{param: "https://attacker.example"})
    event = assert_refused(deputy, exc.value, "invalid_target", "target_unknown")
    assert event.audience == ("https://attacker.example",)
    assert issued_count(deputy) == before


def test_pitfall_2_registered_target_without_a_grant(deputy: Deputy) -> None:
    admin = deputy.admin("test")
    admin.put_resource(Resource("https://payroll.example", scopes=("payroll:read",)))
    admin.set_entitlement(Entitlement("it", "https://payroll.example", ("payroll:read",)))  # jane may
    with pytest.raises(InvalidTarget) as exc:
        exchange(deputy, user_token(deputy), resource="https://payroll.example")  # the agent may not
    assert_refused(deputy, exc.value, "invalid_target", "target_not_allowed")


def test_pitfall_2_agent_itself_as_an_unregistered_audience(deputy: Deputy) -> None:
    """incident-agent is a client, not a resource: it cannot mint a token for itself."""
    with pytest.raises(InvalidTarget) as exc:
        exchange(deputy, user_token(deputy), audience="incident-agent")
    assert_refused(deputy, exc.value, "invalid_target", "target_unknown")


@pytest.mark.parametrize(
    "targets",
    [
        {"resource": INCIDENTS, "audience": "triage-agent"},
        {"audience": [INCIDENTS, "triage-agent"]},
        {"resource": [INCIDENTS, "https://attacker.example"]},
        {"audience": [INCIDENTS, "https://attacker.example"]},
    ],
)
def test_pitfall_2_two_targets(deputy: Deputy, targets: dict[str, str | list[str]]) -> None:
    with pytest.raises(InvalidTarget) as exc:
        exchange(deputy, user_token(deputy), **targets)
    assert_refused(deputy, exc.value, "invalid_target", "target_multiple")


@pytest.mark.parametrize(
    "resource", [f"{INCIDENTS}#frag", f"{INCIDENTS}/#", "incidents.example", "/relative/path"]
)
def test_pitfall_2_malformed_resource(deputy: Deputy, resource: str) -> None:
    with pytest.raises(InvalidTarget) as exc:
        exchange(deputy, user_token(deputy), resource=resource)
    assert_refused(deputy, exc.value, "invalid_target", "target_invalid")


# -- 3. cross-client subject tokens (confused deputy) ------------------------------------------------

def test_pitfall_3_token_of_another_client(deputy: Deputy) -> None:
    janes_token = user_token(deputy, "jane", client_id="incident-agent")
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, janes_token, TRIAGE)
    event = assert_refused(deputy, exc.value, "invalid_request", "subject_token_not_for_client")
    assert event.client_id == "triage-agent"
    assert event.parent_jti == claims_of(janes_token)["jti"]


def test_pitfall_3_downstream_token_for_a_resource(deputy: Deputy) -> None:
    """A token meant for the incident desk cannot be laundered through any agent."""
    for_desk = exchange(deputy, user_token(deputy)).body["access_token"]
    for auth in (AGENT, TRIAGE):
        with pytest.raises(InvalidRequest) as exc:
            exchange(deputy, for_desk, auth)
        assert_refused(deputy, exc.value, "invalid_request", "subject_token_not_for_client")


def test_pitfall_3_no_client_authentication_at_all(deputy: Deputy) -> None:
    """Without client authentication a stolen token could be laundered through the STS."""
    with pytest.raises(InvalidClient) as exc:
        exchange(deputy, user_token(deputy), None)
    assert_refused(deputy, exc.value, "invalid_client", "client_auth_missing")


# -- 4. delegation bypass -----------------------------------------------------------------------------

def test_pitfall_4_may_act_names_another_agent(deputy: Deputy) -> None:
    subject = user_token(deputy, may_act={"sub": "triage-agent", "iss": ISSUER})
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "may_act_mismatch")


@pytest.mark.parametrize("may_act", ["incident-agent", ["incident-agent"], 1])
def test_pitfall_4_malformed_may_act_fails_closed(deputy: Deputy, may_act: object) -> None:
    claims = base_claims(deputy, aud="incident-agent", scope="openid", may_act=may_act)
    subject = forge_own_token(deputy, claims, mode="user")
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "may_act_mismatch")


def test_pitfall_4_reexchange_after_prior_actor_suspended(deputy: Deputy) -> None:
    downstream = hop_to_triage(deputy)
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, downstream, TRIAGE, resource=INCIDENTS)
    assert exc.value.error == "invalid_request"
    assert exc.value.reason in ("subject_token_revoked", "chain_actor_not_active")
    assert_refused(deputy, exc.value, "invalid_request", exc.value.reason)


def test_pitfall_4_reexchange_after_prior_actor_staged(deputy: Deputy) -> None:
    """A status change that revoked nothing (written straight to the store): the check of every
    actor in the chain must refuse on its own."""
    from tests.protocol.test_introspection import set_status_without_revoking

    downstream = hop_to_triage(deputy)
    set_status_without_revoking(deputy, "incident-agent", AgentStatus.STAGED)
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, downstream, TRIAGE, resource=INCIDENTS)
    assert_refused(deputy, exc.value, "invalid_request", "chain_actor_not_active")


def test_pitfall_4_reexchange_after_prior_actor_deleted(deputy: Deputy) -> None:
    downstream = hop_to_triage(deputy)
    deputy.admin("test").delete_agent("incident-agent")
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, downstream, TRIAGE, resource=INCIDENTS)
    assert exc.value.reason in ("subject_token_revoked", "chain_actor_not_active")
    assert_refused(deputy, exc.value, "invalid_request", exc.value.reason)


def test_pitfall_4_output_always_carries_act(deputy: Deputy) -> None:
    """No exchange without explicit, permitted impersonation comes out clean."""
    actor = client_credentials(deputy, AGENT, resource=INCIDENTS).body["access_token"]
    outputs = [
        (exchange(deputy, user_token(deputy)).body["access_token"], ["incident-agent"]),
        (exchange(deputy, user_token(deputy, "bob")).body["access_token"], ["incident-agent"]),
        (exchange(deputy, user_token(deputy, may_act={"sub": "incident-agent"})).body["access_token"],
         ["incident-agent"]),
        (exchange(deputy, user_token(deputy), actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
         .body["access_token"], ["incident-agent"]),
        (exchange(deputy, user_token(deputy), impersonate="false").body["access_token"], ["incident-agent"]),
        (exchange(deputy, hop_to_triage(deputy), TRIAGE).body["access_token"], ["triage-agent", "incident-agent"]),
    ]
    for token, chain in outputs:
        claims = claims_of(token)
        act = claims.get("act")
        seen = []
        while isinstance(act, dict):
            seen.append(act["sub"])
            assert act["iss"] == ISSUER
            act = act.get("act")
        assert seen == chain
        record = deputy.store.tokens.get_token(claims["jti"])
        assert record is not None and record.mode == "delegation"
        assert list(record.actors) == chain


def test_pitfall_4_subject_act_is_never_dropped(deputy: Deputy) -> None:
    """A subject token with its own act, exchanged without actor_token: the chain is kept."""
    downstream = hop_to_triage(deputy)
    claims = claims_of(exchange(deputy, downstream, TRIAGE).body["access_token"])
    assert claims["act"]["sub"] == "triage-agent"
    assert claims["act"]["act"]["sub"] == "incident-agent"


def test_pitfall_4_suspended_agent_refused_and_its_tokens_inactive(deputy: Deputy) -> None:
    issued = exchange(deputy, user_token(deputy)).body["access_token"]
    spare_user_token = user_token(deputy)
    assert is_active(deputy, issued)
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    with pytest.raises(UnauthorizedClient) as exc:
        exchange(deputy, spare_user_token)
    assert_refused(deputy, exc.value, "unauthorized_client", "client_not_active")
    assert introspect(deputy, issued, TRIAGE) == {"active": False}


def test_pitfall_4_revoking_the_parent_deactivates_the_whole_tree(deputy: Deputy) -> None:
    root = user_token(deputy)
    child = exchange(deputy, root, audience="triage-agent").body["access_token"]
    grandchild = exchange(deputy, child, TRIAGE).body["access_token"]
    for token in (root, child, grandchild):
        assert introspect(deputy, token, TRIAGE)["active"] is True
    deputy.revocation.handle(form({"token": root}, AGENT))
    for token in (root, child, grandchild):
        assert introspect(deputy, token, TRIAGE) == {"active": False}
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, child, TRIAGE)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_revoked")


# -- 6. private_key_jwt assertion replay --------------------------------------------------------------

@pytest.fixture
def agent_key(deputy: Deputy) -> ECKey:
    key = new_client_key("k1")
    register_key(deputy, "incident-agent", key)
    return key


def cc_with_assertion(deputy: Deputy, assertion: str) -> None:
    deputy.token.handle(form({"grant_type": "client_credentials", "resource": INCIDENTS, **assertion_params(assertion)}))


def test_pitfall_6_assertion_replay(deputy: Deputy, clock: FixedClock, agent_key: ECKey) -> None:
    assertion = client_assertion(agent_key, "incident-agent", TOKEN_ENDPOINT, clock.now(), jti="one-time")
    cc_with_assertion(deputy, assertion)
    assert events(deputy, "token.issued")[-1].data["client_auth"] == "private_key_jwt"
    clock.advance(1)
    with pytest.raises(InvalidClient) as exc:
        cc_with_assertion(deputy, assertion)
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_replayed")


def test_pitfall_6_replay_in_a_token_exchange(deputy: Deputy, clock: FixedClock, agent_key: ECKey) -> None:
    assertion = client_assertion(agent_key, "incident-agent", ISSUER, clock.now())
    params = {**assertion_params(assertion), "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
              "subject_token": user_token(deputy), "subject_token_type": ACCESS_TOKEN_TYPE, "resource": INCIDENTS}
    assert deputy.token.handle(form(params)).status == 200
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(params))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_replayed")


@pytest.mark.parametrize("aud", [TOKEN_ENDPOINT, ISSUER])
def test_pitfall_6_accepted_audiences(deputy: Deputy, clock: FixedClock, agent_key: ECKey, aud: str) -> None:
    cc_with_assertion(deputy, client_assertion(agent_key, "incident-agent", aud, clock.now()))
    assert events(deputy, "token.issued")[-1].client_id == "incident-agent"


@pytest.mark.parametrize("aud", ["https://other-as.example/token", "https://other-as.example", f"{ISSUER}/revoke"])
def test_pitfall_6_other_audience_refused(deputy: Deputy, clock: FixedClock, agent_key: ECKey, aud: str) -> None:
    with pytest.raises(InvalidClient) as exc:
        cc_with_assertion(deputy, client_assertion(agent_key, "incident-agent", aud, clock.now()))
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


def test_pitfall_6_expired_assertion(deputy: Deputy, clock: FixedClock, agent_key: ECKey) -> None:
    assertion = client_assertion(agent_key, "incident-agent", ISSUER, clock.now(), lifetime=30)
    clock.advance(30 + deputy.settings.clock_leeway)
    with pytest.raises(InvalidClient) as exc:
        cc_with_assertion(deputy, assertion)
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


def test_pitfall_6_assertion_without_jti(deputy: Deputy, clock: FixedClock, agent_key: ECKey) -> None:
    """Without a jti nothing could be tracked for replay: refuse it."""
    assertion = client_assertion(agent_key, "incident-agent", ISSUER, clock.now(), jti=None)
    with pytest.raises(InvalidClient) as exc:
        cc_with_assertion(deputy, assertion)
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


# -- 7. algorithm and type confusion ------------------------------------------------------------------

def _subject_claims(deputy: Deputy) -> dict[str, object]:
    return base_claims(deputy, aud="incident-agent", scope="openid", sub_profile="user")


def _record_lineage(deputy: Deputy, claims: dict[str, object]) -> None:
    """Record a lineage entry for a hand-made token, so that only its header can give it away."""
    forge_own_token(deputy, claims, mode="user")  # the signed copy is discarded


def test_pitfall_7_alg_none_subject_token(deputy: Deputy) -> None:
    claims = _subject_claims(deputy)
    _record_lineage(deputy, claims)
    kid = deputy.store.keys.key_ring().active_kid("ES256")
    for header in ({"alg": "none", "typ": "at+jwt"}, {"alg": "none", "typ": "at+jwt", "kid": kid},
                   {"alg": "None", "typ": "at+jwt"}):
        with pytest.raises(InvalidRequest) as exc:
            exchange(deputy, unsigned_jwt(header, claims))
        assert_refused(deputy, exc.value, "invalid_request", "subject_token_invalid")


def test_pitfall_7_hs256_signed_with_the_servers_public_key(deputy: Deputy) -> None:
    claims = _subject_claims(deputy)
    _record_lineage(deputy, claims)
    rsa_jwk = next(k for k in deputy.store.keys.key_ring().public_jwks()["keys"] if k["kty"] == "RSA")
    pem = RSAKey.import_key(rsa_jwk).as_pem(private=False)
    for secret in (pem, json.dumps(rsa_jwk).encode()):
        for header in ({"alg": "HS256", "typ": "at+jwt", "kid": rsa_jwk["kid"]}, {"alg": "HS256", "typ": "at+jwt"}):
            with pytest.raises(InvalidRequest) as exc:
                exchange(deputy, hs256_jwt(header, claims, secret))
            assert_refused(deputy, exc.value, "invalid_request", "subject_token_invalid")


def test_pitfall_7_rs256_key_abused(deputy: Deputy) -> None:
    """An attacker's RSA key under the server's kids: pinned algorithms and signatures refuse it."""
    claims = _subject_claims(deputy)
    _record_lineage(deputy, claims)
    ring = deputy.store.keys.key_ring()
    attacker = RSAKey.generate_key(2048)
    for kid, alg in ((ring.active_kid("RS256"), "RS256"), (ring.active_kid("ES256"), "RS256"),
                     (ring.active_kid("RS256"), "PS256")):
        token = jwt.encode({"alg": alg, "typ": "at+jwt", "kid": kid}, claims, attacker, algorithms=[alg])
        with pytest.raises(InvalidRequest) as exc:
            exchange(deputy, token)
        assert_refused(deputy, exc.value, "invalid_request", "subject_token_invalid")


@pytest.mark.parametrize("typ", ["JWT", "id_token+jwt", "oauth-id-jag+jwt", "dpop+jwt"])
def test_pitfall_7_other_token_type_signed_by_the_server(deputy: Deputy, typ: str) -> None:
    """An id_token-like JWT signed with the server's key, with a live lineage record, audience the
    agent and everything else right: only its typ tells it apart, and that is enough."""
    claims = _subject_claims(deputy)
    token = forge_own_token(deputy, claims, typ=typ, mode="user")
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, token)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_invalid")
    # the very same claims typed as an access token would have been accepted
    good = forge_own_token(deputy, {**claims, "jti": claims["jti"] + "-at"}, mode="user")
    assert exchange(deputy, good).status == 200


def test_pitfall_7_id_token_type_identifier(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), subject_token_type="urn:ietf:params:oauth:token-type:id_token")
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_type_unsupported")


# -- 8. act nesting and chain depth -------------------------------------------------------------------

def _add_summary_agent(deputy: Deputy) -> tuple[str, str]:
    """A third agent: incident-agent → triage-agent → summary-agent → the incident desk."""
    admin = deputy.admin("test")
    admin.put_resource(Resource("summary-agent", scopes=("incidents:read",)))
    admin.set_entitlement(Entitlement("it", "summary-agent", ("incidents:read",)))
    set_grants(deputy, "triage-agent", {INCIDENTS: ("incidents:read",), "summary-agent": ("incidents:read",)})
    return add_agent(deputy, "summary-agent", {INCIDENTS: ("incidents:read",)})


@pytest.fixture
def shallow(tmp_path: Path, clock: FixedClock) -> Iterator[Deputy]:
    settings = Settings(issuer=ISSUER, home=tmp_path / "shallow", admin_token=ADMIN_TOKEN, max_chain_depth=2)
    instance = Deputy.open(settings, clock)
    load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
    yield instance
    instance.close()


def test_pitfall_8_nesting_order(deputy: Deputy) -> None:
    summary = _add_summary_agent(deputy)
    hop1 = hop_to_triage(deputy)
    hop2 = exchange(deputy, hop1, TRIAGE, audience="summary-agent").body["access_token"]
    hop3 = exchange(deputy, hop2, summary, resource=INCIDENTS).body["access_token"]
    act = claims_of(hop3)["act"]
    # outermost = the current actor; the least recent actor is nested deepest
    assert act["sub"] == "summary-agent"
    assert act["act"]["sub"] == "triage-agent"
    assert act["act"]["act"]["sub"] == "incident-agent"
    assert "act" not in act["act"]["act"]
    assert claims_of(hop3)["client_id"] == "summary-agent"
    assert claims_of(hop3)["sub"] == "jane"
    record = deputy.store.tokens.get_token(claims_of(hop3)["jti"])
    assert record is not None and record.actors == ("summary-agent", "triage-agent", "incident-agent")
    for inner in (act, act["act"], act["act"]["act"]):
        assert not {"exp", "nbf", "aud", "iat"} & set(inner)


def test_pitfall_8_chain_too_deep(shallow: Deputy) -> None:
    summary = _add_summary_agent(shallow)
    hop1 = hop_to_triage(shallow)
    hop2 = exchange(shallow, hop1, TRIAGE, audience="summary-agent").body["access_token"]
    act = claims_of(hop2)["act"]
    assert (act["sub"], act["act"]["sub"]) == ("triage-agent", "incident-agent")  # depth 2: allowed
    before = issued_count(shallow)
    with pytest.raises(InvalidRequest) as exc:
        exchange(shallow, hop2, summary, resource=INCIDENTS)
    event = assert_refused(shallow, exc.value, "invalid_request", "chain_too_deep")
    assert event.actor_chain == ("summary-agent", "triage-agent", "incident-agent")
    assert issued_count(shallow) == before


def test_pitfall_8_depth_limit_of_one(tmp_path: Path, clock: FixedClock) -> None:
    settings = Settings(issuer=ISSUER, home=tmp_path / "one", admin_token=ADMIN_TOKEN, max_chain_depth=1)
    instance = Deputy.open(settings, clock)
    try:
        load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
        hop1 = hop_to_triage(instance)  # one actor: allowed
        with pytest.raises(InvalidRequest) as exc:
            exchange(instance, hop1, TRIAGE)
        assert_refused(instance, exc.value, "invalid_request", "chain_too_deep")
    finally:
        instance.close()


# -- 9. error codes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["garbage", "foreign-signature", "expired", "unknown-jti", "wrong-issuer"])
def test_pitfall_9_invalid_subject_token_is_invalid_request(deputy: Deputy, clock: FixedClock, kind: str) -> None:
    claims = _subject_claims(deputy)
    if kind == "garbage":
        token = "not.a.token"
    elif kind == "foreign-signature":
        stranger = ECKey.generate_key("P-256", private=True)
        kid = deputy.store.keys.key_ring().active_kid("ES256")
        _record_lineage(deputy, claims)
        token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims, stranger, algorithms=["ES256"])
    elif kind == "expired":
        token = user_token(deputy, ttl=10)
        clock.advance(10)
    elif kind == "unknown-jti":
        token = forge_own_token(deputy, claims, mode=None)
    else:
        token = forge_own_token(deputy, {**claims, "iss": "https://other-idp.example"}, mode="user")
    with pytest.raises(OAuthError) as exc:
        exchange(deputy, token)
    assert exc.value.error != "invalid_grant"
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_invalid")


def test_pitfall_9_invalid_actor_token_is_invalid_request(deputy: Deputy) -> None:
    with pytest.raises(OAuthError) as exc:
        exchange(deputy, user_token(deputy), actor_token="bad.actor.token", actor_token_type=ACCESS_TOKEN_TYPE)
    assert_refused(deputy, exc.value, "invalid_request", "actor_token_invalid")


def test_pitfall_9_invalid_client_assertion_is_invalid_client(deputy: Deputy, clock: FixedClock) -> None:
    key = new_client_key("k1")
    register_key(deputy, "incident-agent", key)
    rogue = new_client_key("k1")
    with pytest.raises(OAuthError) as exc:
        cc_with_assertion(deputy, client_assertion(rogue, "incident-agent", ISSUER, clock.now()))
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_assertion_invalid")


def test_pitfall_9_confidential_client_without_secret(deputy: Deputy) -> None:
    params = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "client_id": "incident-agent",
              "subject_token": user_token(deputy), "subject_token_type": ACCESS_TOKEN_TYPE, "resource": INCIDENTS}
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form(params))
    assert exc.value.status_code == 401
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_missing")


# -- 9, 10, 11 in the jwt-bearer dialects (issue 4; docs/dialects.md) ------------------------------

def test_pitfall_9_invalid_grant_jwt_is_invalid_grant(deputy: Deputy, clock: FixedClock) -> None:
    """RFC 7521 §5.2: a bad assertion in the jwt-bearer grant is invalid_grant, in both profiles."""
    from deputy.errors import InvalidGrant
    from tests.protocol.dialect_support import mint_jag, obo, redeem, trusted_idp

    with pytest.raises(InvalidGrant) as exc:
        obo(deputy, user_token(deputy, client_id="triage-agent"))  # a token for another app
    assert_refused(deputy, exc.value, "invalid_grant", "subject_token_not_for_client")
    idp = trusted_idp(deputy, clock.now)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, mint_jag(idp, aud="https://elsewhere.example"))
    assert_refused(deputy, exc.value, "invalid_grant", "assertion_wrong_audience")


def test_pitfall_10_no_refresh_token_from_an_assertion_grant(deputy: Deputy, clock: FixedClock) -> None:
    from tests.protocol.dialect_support import mint_jag, obo, redeem, trusted_idp

    body = obo(deputy, user_token(deputy), "offline_access https://incidents.example/.default").body
    assert "refresh_token" not in body
    idp = trusted_idp(deputy, clock.now)
    assert "refresh_token" not in redeem(deputy, mint_jag(idp), scope="incidents:read").body


def test_pitfall_11_circulating_spellings(deputy: Deputy) -> None:
    """``id_jag`` is not the token type; ``jwt_bearer`` is accepted only as Entra's input dialect
    and never advertised (SPECS.md §2)."""
    from tests.protocol.dialect_support import JWT_BEARER_UNDERSCORE, obo

    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), requested_token_type="urn:ietf:params:oauth:token-type:id_jag")
    assert_refused(deputy, exc.value, "invalid_request", "requested_token_type_unsupported")
    assert obo(deputy, user_token(deputy), grant_type=JWT_BEARER_UNDERSCORE).status == 200
    assert JWT_BEARER_UNDERSCORE not in deputy.token.grants.grant_types
