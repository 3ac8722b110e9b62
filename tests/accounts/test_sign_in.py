"""Local sign-in: argon2id passwords, generic failures, lock-out, sessions, CSRF tokens."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deputy.accounts import SignInFailed, csrf_token, csrf_valid
from deputy.accounts.passwords import hash_password, is_password_hash, needs_rehash, verify_password
from deputy.clock import FixedClock
from deputy.errors import InvalidInput, NotFound
from deputy.protocol.sign_in_ports import opaque_hash
from deputy.runtime import Deputy
from tests.protocol.support import events

JANE_PASSWORD = "jane-dev-password"


def test_dev_realm_passwords(deputy: Deputy) -> None:
    signed = deputy.accounts.sign_in("jane", JANE_PASSWORD)
    assert signed.session.username == "jane"
    assert deputy.accounts.sign_in("bob", "bob-dev-password").session.username == "bob"


def test_passwords_are_argon2id_hashes() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and is_password_hash(stored) and not needs_rehash(stored)
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


def test_set_password(deputy: Deputy) -> None:
    deputy.admin("test").set_password("jane", "a-brand-new-password")
    with pytest.raises(SignInFailed):
        deputy.accounts.sign_in("jane", JANE_PASSWORD)
    assert deputy.accounts.sign_in("jane", "a-brand-new-password").session.username == "jane"
    credential = deputy.store.accounts.get_credential("jane")
    assert credential is not None and "a-brand-new-password" not in credential.password_hash
    assert events(deputy, "user.password_set")[-1].subject == "jane"


def test_set_password_checks(deputy: Deputy) -> None:
    with pytest.raises(InvalidInput):
        deputy.admin("test").set_password("jane", "short")
    with pytest.raises(NotFound):
        deputy.admin("test").set_password("nobody", "long-enough-password")


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("jane", "wrong-password", "wrong_password"),
        ("nobody", "whatever-password", "unknown_user"),
        ("", "whatever-password", "unknown_user"),
    ],
)
def test_failures_are_audited_with_a_reason(deputy: Deputy, username: str, password: str, reason: str) -> None:
    with pytest.raises(SignInFailed) as exc:
        deputy.accounts.sign_in(username, password, "192.0.2.7")
    assert exc.value.reason == reason
    failed = events(deputy, "user.signin_failed")[-1]
    assert failed.reason == reason and failed.outcome == "failure" and failed.data["client_ip"] == "192.0.2.7"


def test_user_without_password_cannot_sign_in(deputy: Deputy) -> None:
    from deputy.realm import User

    deputy.admin("test").put_user(User("carol", groups=("it",)))
    with pytest.raises(SignInFailed) as exc:
        deputy.accounts.sign_in("carol", "")
    assert exc.value.reason == "no_password"


def test_disabled_user_cannot_sign_in(deputy: Deputy) -> None:
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    deputy.admin("test").put_user(replace(jane, disabled=True))
    with pytest.raises(SignInFailed) as exc:
        deputy.accounts.sign_in("jane", JANE_PASSWORD)
    assert exc.value.reason == "user_disabled"


def test_lock_out_after_repeated_failures(deputy: Deputy, clock: FixedClock) -> None:
    limit = deputy.settings.signin_max_failures
    for _ in range(limit):
        with pytest.raises(SignInFailed):
            deputy.accounts.sign_in("jane", "guess")
    locked = events(deputy, "user.locked")
    assert len(locked) == 1 and locked[0].subject == "jane"
    # the right password does not help while locked (and is not even checked)
    with pytest.raises(SignInFailed) as exc:
        deputy.accounts.sign_in("jane", JANE_PASSWORD)
    assert exc.value.reason == "account_locked"
    clock.advance(deputy.settings.signin_lockout_seconds - 1)
    with pytest.raises(SignInFailed):
        deputy.accounts.sign_in("jane", JANE_PASSWORD)
    clock.advance(1)
    assert deputy.accounts.sign_in("jane", JANE_PASSWORD).session.username == "jane"
    # bob was never affected
    assert deputy.accounts.sign_in("bob", "bob-dev-password").session.username == "bob"


def test_success_resets_the_failure_count(deputy: Deputy) -> None:
    for _ in range(deputy.settings.signin_max_failures - 1):
        with pytest.raises(SignInFailed):
            deputy.accounts.sign_in("jane", "guess")
    deputy.accounts.sign_in("jane", JANE_PASSWORD)
    for _ in range(deputy.settings.signin_max_failures - 1):
        with pytest.raises(SignInFailed):
            deputy.accounts.sign_in("jane", "guess")
    assert not events(deputy, "user.locked")


def test_setting_a_password_lifts_a_lock(deputy: Deputy) -> None:
    for _ in range(deputy.settings.signin_max_failures):
        with pytest.raises(SignInFailed):
            deputy.accounts.sign_in("jane", "guess")
    deputy.admin("test").set_password("jane", "after-the-lock-out")
    assert deputy.accounts.sign_in("jane", "after-the-lock-out").session.username == "jane"


def test_sessions(deputy: Deputy, clock: FixedClock) -> None:
    signed = deputy.accounts.sign_in("jane", JANE_PASSWORD)
    assert signed.session.session_hash == opaque_hash(signed.cookie)  # only the hash is stored
    assert deputy.store.accounts.get_session(signed.cookie) is None
    session = deputy.accounts.session(signed.cookie)
    assert session is not None and session.username == "jane" and session.auth_time == clock.now()
    assert deputy.accounts.session("forged") is None and deputy.accounts.session(None) is None
    clock.advance(deputy.settings.session_ttl)
    assert deputy.accounts.session(signed.cookie) is None
    assert events(deputy, "user.signed_in")[-1].subject == "jane"


def test_ending_a_session(deputy: Deputy) -> None:
    signed = deputy.accounts.sign_in("jane", JANE_PASSWORD)
    deputy.accounts.end_session(signed.cookie)
    assert deputy.accounts.session(signed.cookie) is None
    assert events(deputy, "user.signed_out")[-1].subject == "jane"


def test_session_of_a_disabled_user_is_dead(deputy: Deputy) -> None:
    signed = deputy.accounts.sign_in("jane", JANE_PASSWORD)
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    deputy.admin("test").put_user(replace(jane, disabled=True))
    assert deputy.accounts.session(signed.cookie) is None


def test_csrf_tokens() -> None:
    token = csrf_token("session-secret", "consent")
    assert csrf_valid("session-secret", "consent", token)
    assert not csrf_valid("session-secret", "grants", token)  # bound to a purpose
    assert not csrf_valid("another-session", "consent", token)  # and to the browser
    assert not csrf_valid("session-secret", "consent", None)
    assert not csrf_valid(None, "consent", token)
    assert not csrf_valid("session-secret", "consent", "")
