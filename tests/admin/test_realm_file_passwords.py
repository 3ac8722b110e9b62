"""Realm files give users a sign-in password (``password``, hashed on load, or ``password_hash``);
passwords never come back out of an export."""

from __future__ import annotations

import json

import pytest

from deputy.accounts.passwords import hash_password
from deputy.admin.realm_file import export_realm, load_realm
from deputy.errors import InvalidInput
from deputy.runtime import Deputy


def test_password_and_password_hash(deputy: Deputy) -> None:
    load_realm(deputy.admin("test"), {"users": [
        {"username": "carol", "groups": ["it"], "password": "carols-password"},
        {"username": "dave", "password_hash": hash_password("daves-password")},
    ]})
    assert deputy.accounts.sign_in("carol", "carols-password").session.username == "carol"
    assert deputy.accounts.sign_in("dave", "daves-password").session.username == "dave"
    exported = json.dumps(export_realm(deputy.admin("test")))
    assert "password" not in exported and "argon2" not in exported


@pytest.mark.parametrize(
    "user",
    [
        {"username": "carol", "password": "short"},
        {"username": "carol", "password": 12345678},
        {"username": "carol", "password_hash": "plain-text-is-not-a-hash"},
        {"username": "carol", "password": "long-enough-pw", "password_hash": hash_password("x" * 8)},
    ],
)
def test_bad_credentials_change_nothing(deputy: Deputy, user: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        load_realm(deputy.admin("test"), {"users": [user]})
    assert deputy.store.realm.get_user("carol") is None
