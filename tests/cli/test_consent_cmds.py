"""`deputy users set-password`, `deputy consents list|withdraw`."""

from __future__ import annotations

from pathlib import Path

import pytest

from deputy.accounts import SignInFailed
from deputy.cli.main import app
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.protocol.sign_in_support import sign_in_tokens
from tests.protocol.support import is_active

from tests.cli.conftest import ok, runner


def opened() -> Deputy:
    return Deputy.open(Settings.from_env())


def test_set_password_with_option_and_prompt(home: Path) -> None:
    assert "password set for jane" in ok("users", "set-password", "jane", "--password", "scripted-password")
    ok("users", "set-password", "bob", input="prompted-password\nprompted-password\n")
    deputy = opened()
    try:
        assert deputy.accounts.sign_in("jane", "scripted-password").session.username == "jane"
        assert deputy.accounts.sign_in("bob", "prompted-password").session.username == "bob"
        with pytest.raises(SignInFailed):
            deputy.accounts.sign_in("jane", "jane-dev-password")
    finally:
        deputy.close()


def test_set_password_refuses_a_short_one(home: Path) -> None:
    result = runner.invoke(app, ["users", "set-password", "jane", "--password", "short"])
    assert result.exit_code == 1 and "at least 8 characters" in result.output


def test_list_and_withdraw(home: Path) -> None:
    deputy = opened()
    try:
        body = sign_in_tokens(deputy)
    finally:
        deputy.close()
    listing = ok("consents", "list", "--user", "jane", "--json")
    assert '"client_id": "incident-agent"' in listing
    consent_id = listing.split('"consent_id": "')[1].split('"')[0]
    assert "jane" in ok("consents", "list")
    assert "1 token(s) revoked" in ok("consents", "withdraw", consent_id)
    assert '"consent_id"' not in ok("consents", "list", "--user", "jane", "--json")
    assert consent_id in ok("consents", "list", "--all", "--json")
    deputy = opened()
    try:
        assert not is_active(deputy, body["access_token"])
    finally:
        deputy.close()
    result = runner.invoke(app, ["consents", "withdraw", "no-such-consent"])
    assert result.exit_code == 1
