"""Tokens never appear in logs, reprs or exception messages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from deputy.agent import ClientSecret, Token, TokenRequestFailed, UserToken, user_token
from tests.agent.fake_as import FakeWorld


def test_reprs_hide_token_values() -> None:
    token = Token(value="downstream-secret-token", token_type="Bearer", expires_at=1)
    user = UserToken("inbound-secret-token", issuer="https://idp.example", subject="jane")
    for text in (repr(token), str(token), repr(user), str(user), repr(ClientSecret("a", "client-secret-value"))):
        assert "secret-token" not in text and "client-secret-value" not in text
    assert token.fingerprint in repr(token)  # what logs may carry instead
    assert token.authorization() == "Bearer downstream-secret-token"


def test_logs_carry_fingerprints_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = FakeWorld()
    broker = world.broker()
    with user_token("inbound-jane-token"):
        token = broker.get_token("api")
    assert caplog.records, "the exchange is logged"
    assert token.value not in caplog.text and "inbound-jane-token" not in caplog.text
    assert "agent-secret" not in caplog.text
    assert token.fingerprint in caplog.text
    assert token.value not in repr(broker) + repr(broker.vault.cached_keys())


def test_errors_hold_no_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world = FakeWorld(refuse=(400, {"error": "invalid_request", "error_description": "bad subject"}))
    broker = world.broker()
    with user_token("inbound-jane-token"), pytest.raises(TokenRequestFailed) as failed:
        broker.get_token("api")
    text = str(failed.value) + repr(failed.value) + caplog.text
    assert "inbound-jane-token" not in text and "agent-secret" not in text
    assert "invalid_request: bad subject" in str(failed.value)


def test_stores_and_verifiers_show_no_secret(tmp_path: Path) -> None:
    from deputy.agent import (
        EntraTokenVerifier,
        MemoryRefreshTokens,
        RedisVaultStore,
        SQLiteVaultStore,
        new_vault_key,
    )

    redis = pytest.importorskip("redis", reason="RedisVaultStore needs the redis package (extra `redis`)")
    secret = new_vault_key()
    memory = MemoryRefreshTokens()
    memory.save_refresh_token(("https://idp.example", "jane"), "gh", ("repo",), "jane-refresh-secret")
    texts = [
        repr(SQLiteVaultStore(tmp_path / "v.db", key=secret)),
        repr(RedisVaultStore(redis.Redis(host="127.0.0.1"), key=secret)),  # no command is sent
        repr(memory),
        repr(EntraTokenVerifier("72f988bf-86f1-41af-91ab-2d7cd011db47", "api://agent")),
    ]
    for text in texts:
        assert secret not in text and "jane-refresh-secret" not in text and "jane" not in text
