"""The authorization endpoint's decisions: sign in, ask, remember; consent as a delegation grant
that the user can withdraw, revoking everything derived from it."""

from __future__ import annotations

import pytest

from deputy.clock import FixedClock
from deputy.errors import NotFound
from deputy.protocol.authorization import ConsentScreen, NeedsSignIn, Redirect, SignedInUser
from deputy.protocol.authorization_request import RedirectError
from deputy.runtime import Deputy
from tests.conftest import INCIDENTS, TRIAGE
from tests.protocol.sign_in_support import (
    authorize_pairs,
    get_code,
    pkce,
    query_of,
    redeem,
    sign_in_tokens,
    who,
)
from tests.protocol.support import claims_of, events, exchange, introspect, is_active


def decide(deputy: Deputy, user: SignedInUser | None, **params: str | None) -> object:
    request = deputy.authorization.parse(authorize_pairs(pkce()[1], **params))
    return deputy.authorization.decide(request, user)


def test_nobody_signed_in_needs_sign_in(deputy: Deputy) -> None:
    assert isinstance(decide(deputy, None), NeedsSignIn)


def test_first_time_asks(deputy: Deputy) -> None:
    screen = decide(deputy, who(deputy), resource=INCIDENTS, scope="incidents:read incidents:write hr:read")
    assert isinstance(screen, ConsentScreen)
    assert screen.scopes == ("incidents:read", "incidents:write")  # only what jane may delegate
    assert screen.resource is not None and screen.resource.identifier == INCIDENTS
    assert screen.token_ttl == 300 and screen.consent_ttl == deputy.settings.consent_ttl


def test_without_resource_the_screen_says_where_the_agent_may_act(deputy: Deputy) -> None:
    screen = decide(deputy, who(deputy))
    assert isinstance(screen, ConsentScreen)
    assert ("Incident desk", ("incidents:read", "incidents:write")) in screen.reachable


def test_remembered_consent_skips_the_page_for_the_same_or_less(deputy: Deputy) -> None:
    get_code(deputy, resource=INCIDENTS, scope="openid incidents:read incidents:write")
    assert isinstance(decide(deputy, who(deputy), resource=INCIDENTS, scope="openid incidents:read"), Redirect)
    assert isinstance(decide(deputy, who(deputy), resource=INCIDENTS, scope="openid incidents:write"), Redirect)
    # more than was granted: asked again
    assert isinstance(decide(deputy, who(deputy), resource=INCIDENTS, scope="openid profile incidents:read"), ConsentScreen)
    # another resource, another client, another user: asked
    assert isinstance(decide(deputy, who(deputy), scope="openid"), ConsentScreen)
    assert isinstance(decide(deputy, who(deputy, "bob"), resource=INCIDENTS, scope="incidents:read"), ConsentScreen)


def test_prompt_consent_always_asks(deputy: Deputy) -> None:
    get_code(deputy)
    assert isinstance(decide(deputy, who(deputy)), Redirect)
    assert isinstance(decide(deputy, who(deputy), prompt="consent"), ConsentScreen)


def test_widening_updates_the_same_grant(deputy: Deputy) -> None:
    get_code(deputy, resource=INCIDENTS, scope="incidents:read")
    first = deputy.store.consents.find_consent("jane", "incident-agent", INCIDENTS)
    get_code(deputy, resource=INCIDENTS, scope="incidents:write")
    second = deputy.store.consents.find_consent("jane", "incident-agent", INCIDENTS)
    assert first is not None and second is not None and first.consent_id == second.consent_id
    assert second.scopes == ("incidents:read", "incidents:write")
    assert [e.type for e in events(deputy) if e.type.startswith("consent.")] == ["consent.granted", "consent.updated"]


def test_prompt_none(deputy: Deputy) -> None:
    with pytest.raises(RedirectError) as exc:
        decide(deputy, None, prompt="none")
    assert exc.value.error.error == "login_required"
    with pytest.raises(RedirectError) as exc:
        decide(deputy, who(deputy), prompt="none")
    assert exc.value.error.error == "consent_required"
    get_code(deputy)
    assert isinstance(decide(deputy, who(deputy), prompt="none"), Redirect)


def test_prompt_login_and_max_age(deputy: Deputy, clock: FixedClock) -> None:
    get_code(deputy)
    assert isinstance(decide(deputy, who(deputy), prompt="login"), NeedsSignIn)
    request = deputy.authorization.parse(authorize_pairs(pkce()[1], prompt="login"))
    assert isinstance(deputy.authorization.decide(request, who(deputy), just_signed_in=True), Redirect)
    old = SignedInUser("jane", clock.now() - 600)
    assert isinstance(decide(deputy, old, max_age="300"), NeedsSignIn)
    assert isinstance(decide(deputy, old, max_age="3600"), Redirect)


def test_deny(deputy: Deputy) -> None:
    request = deputy.authorization.parse(authorize_pairs(pkce()[1]))
    location = deputy.authorization.deny(request, who(deputy)).location
    query = query_of(location)
    assert query["error"] == "access_denied" and query["state"] == "s-123" and query["iss"] == deputy.settings.issuer
    assert events(deputy)[-1].type == "consent.denied"
    assert deputy.store.consents.find_consent("jane", "incident-agent", None) is None


def test_nothing_grantable_at_the_resource_is_invalid_scope(deputy: Deputy) -> None:
    with pytest.raises(RedirectError) as exc:
        decide(deputy, who(deputy), resource=INCIDENTS, scope="hr:read")
    assert exc.value.error.error == "invalid_scope"


def test_withdrawing_revokes_every_derived_token(deputy: Deputy) -> None:
    """Withdrawn consent: the user's tokens, the tokens agents exchanged from them (at any
    depth), and the refresh tokens all stop at once."""
    body = sign_in_tokens(deputy)
    later = sign_in_tokens(deputy)  # a second sign-in under the same consent
    hop = exchange(deputy, body["access_token"], audience="triage-agent").body["access_token"]
    desk = exchange(deputy, hop, TRIAGE).body["access_token"]
    direct = exchange(deputy, later["access_token"], resource=INCIDENTS).body["access_token"]
    for token in (body["access_token"], later["access_token"], hop, desk, direct):
        assert is_active(deputy, token)
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None
    revoked = deputy.admin("test").withdraw_consent(consent.consent_id)
    assert revoked == 5
    for token in (body["access_token"], later["access_token"], hop, desk, direct):
        assert introspect(deputy, token) == {"active": False}
    assert events(deputy, "consent.withdrawn")[-1].data["revoked_count"] == 5
    assert deputy.store.consents.find_consent("jane", "incident-agent", None) is None
    # the next sign-in asks again and makes a new grant
    assert isinstance(decide(deputy, who(deputy)), ConsentScreen)


def test_withdrawing_one_grant_leaves_the_others(deputy: Deputy) -> None:
    mine = sign_in_tokens(deputy)
    bobs = sign_in_tokens(deputy, "bob")
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None
    deputy.admin("test").withdraw_consent(consent.consent_id)
    assert not is_active(deputy, mine["access_token"])
    assert is_active(deputy, bobs["access_token"])


def test_a_user_withdraws_only_their_own(deputy: Deputy) -> None:
    sign_in_tokens(deputy)
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None
    with pytest.raises(NotFound):  # as if it did not exist: bob learns nothing about jane's grants
        deputy.admin("user:bob").withdraw_consent(consent.consent_id, by_user="bob")
    assert deputy.store.consents.get_consent(consent.consent_id) is not None


def test_code_flow_scope_claims_match_the_consent(deputy: Deputy) -> None:
    code, verifier = get_code(deputy, resource=INCIDENTS, scope="incidents:read")
    claims = claims_of(redeem(deputy, code, verifier).body["access_token"])
    consent = deputy.store.consents.find_consent("jane", "incident-agent", INCIDENTS)
    assert consent is not None and claims["scope"] == " ".join(consent.scopes)
