"""The `deputy` command against a store in a temporary home (in-process, via Typer's runner)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from deputy.config import Settings
from deputy.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN
from deputy.jose import peek_claims
from deputy.runtime import Deputy
from tests.databases import POSTGRES
from tests.helpers import form

from tests.cli.conftest import fails, ok


def exchange(home: Path, client: tuple[str, str], subject: str, audience: str) -> dict[str, object]:
    deputy = Deputy.open(Settings.from_env())
    try:
        params = {"grant_type": GRANT_TOKEN_EXCHANGE, "subject_token": subject,
                  "subject_token_type": TOKEN_TYPE_ACCESS_TOKEN, "audience": audience}
        return deputy.token.handle(form(params, client)).body
    finally:
        deputy.close()


def tamper(sql: str) -> None:
    """Change the store behind Deputy's back (SQLite file or the PostgreSQL pass's database)."""
    engine = create_engine(Settings.from_env().db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_user_token_names_the_user_and_the_agent(home: Path) -> None:
    token = ok("token", "user", "bob", "--client", "incident-agent", "--scope", "openid", "--scope", "profile").strip()
    header, claims = peek_claims(token)
    assert header["typ"] == "at+jwt"
    assert claims["sub"] == "bob" and claims["aud"] == "incident-agent"
    assert claims["scope"] == "openid profile"


def test_user_token_for_unknown_user_is_a_clear_error(home: Path) -> None:
    output = fails("token", "user", "nobody", "--client", "incident-agent")
    assert "No user 'nobody'" in output
    assert "Traceback" not in output


def test_registering_an_agent_prints_a_secret_that_works(home: Path) -> None:
    ok("users", "add", "carol", "--group", "it")
    output = ok(
        "agents", "add", "helper-agent", "--owner", "carol", "--group", "it",
        "--allow", "https://incidents.example=incidents:read", "--activate",
    )
    secret = re.search(r"(dps_[A-Za-z0-9_-]+)", output)
    assert secret is not None, output
    token = ok("token", "user", "carol", "--client", "helper-agent").strip()
    body = exchange(home, ("helper-agent", secret.group(1)), token, "https://incidents.example")
    assert body["scope"] == "incidents:read"


def test_staged_agent_must_be_activated(home: Path) -> None:
    output = ok("agents", "add", "staged-agent", "--group", "it", "--allow", "https://incidents.example=incidents:read")
    assert "staged" in output
    shown = json.loads(ok("agents", "show", "staged-agent"))
    assert shown["status"] == "staged"
    assert "secret_hash" not in json.dumps(shown)
    ok("agents", "activate", "staged-agent")
    assert json.loads(ok("agents", "show", "staged-agent"))["status"] == "active"


def test_allow_and_subjects_change_what_an_agent_may_do(home: Path) -> None:
    ok("agents", "allow", "triage-agent", "https://incidents.example", "--scope", "incidents:read", "--scope", "hr:read")
    ok("agents", "subjects", "triage-agent", "--user", "bob")
    shown = json.loads(ok("agents", "show", "triage-agent"))
    assert shown["subject_users"] == ["bob"] and shown["subject_groups"] == []
    grant = [g for g in shown["resources"] if g["resource"] == "https://incidents.example"][0]
    assert grant["scopes"] == ["incidents:read", "hr:read"]


def test_allow_with_undefined_scope_is_refused(home: Path) -> None:
    output = " ".join(fails("agents", "allow", "triage-agent", "https://incidents.example", "--scope", "root").split())
    assert "not defined by https://incidents.example" in output


def test_suspend_revokes_live_tokens(home: Path) -> None:
    token = ok("token", "user", "jane", "--client", "incident-agent").strip()
    exchange(home, ("incident-agent", "incident-agent-dev-secret"), token, "https://incidents.example")
    output = ok("agents", "suspend", "incident-agent")
    assert "suspended" in output and "revoked" in output


def test_realm_file_errors_name_the_field(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[resources]]\nidentifier = "https://x.example#frag"\nscopes = ["a"]\n')
    output = fails("realm", "load", str(bad))
    assert "resources[0]" in output and "fragment" in output
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[users]]\nusername = "dave"\nshoe_size = 44\n')
    assert "shoe_size" in fails("realm", "load", str(unknown))


def test_realm_export_then_load_round_trips(home: Path, tmp_path: Path) -> None:
    exported = ok("realm", "export")
    path = tmp_path / "realm.json"
    path.write_text(exported)
    assert "loaded" in ok("realm", "load", str(path))
    assert json.loads(ok("realm", "export")) == json.loads(exported)


def test_tokens_show_and_revoke_cascade(home: Path) -> None:
    token = ok("token", "user", "jane", "--client", "incident-agent").strip()
    jti = peek_claims(token)[1]["jti"]
    hop = exchange(home, ("incident-agent", "incident-agent-dev-secret"), token, "triage-agent")
    exchange(home, ("triage-agent", "triage-agent-dev-secret"), str(hop["access_token"]), "https://incidents.example")
    tree = "".join(ok("tokens", "show", jti).split())  # the table may wrap anywhere
    assert tree.count("[live]") == 0 and tree.count("live") >= 3 and "revoked(" not in tree
    assert "revoked 3 token(s)" in ok("tokens", "revoke", jti)
    after = "".join(ok("tokens", "show", jti).split())
    assert after.count("revoked(revokedbyadministrator)") == 3


def test_audit_verify_detects_tampering(home: Path) -> None:
    ok("token", "user", "jane", "--client", "incident-agent")
    assert "intact" in ok("audit", "verify")
    tamper("UPDATE audit_events SET body = replace(body, 'jane', 'mallory') WHERE subject = 'jane'")
    output = fails("audit", "verify")
    assert "BROKEN" in output


def test_audit_verify_detects_a_changed_filter_column(home: Path) -> None:
    ok("token", "user", "jane", "--client", "incident-agent")
    tamper("UPDATE audit_events SET subject = 'someone-else' WHERE subject = 'jane'")
    assert "BROKEN" in fails("audit", "verify")


def test_audit_export_csv_and_filters(home: Path, tmp_path: Path) -> None:
    ok("token", "user", "jane", "--client", "incident-agent")
    ok("token", "user", "bob", "--client", "incident-agent")
    out = tmp_path / "audit.csv"
    ok("audit", "export", "--format", "csv", "--type", "token.issued", "--user", "bob", "-o", str(out))
    lines = out.read_text().splitlines()
    assert lines[0].startswith("seq,")
    assert len(lines) == 2 and ",bob," in lines[1]
    assert "--format" in fails("audit", "export", "--format", "xml")


def test_keys_rotate_keeps_old_key_published(home: Path) -> None:
    before = ok("keys", "list")
    ok("keys", "rotate", "--alg", "ES256")
    after = ok("keys", "list")
    es256_before = before.count("ES256")
    assert after.count("ES256") == es256_before + 1
    assert "active" in after


@pytest.mark.skipif(not POSTGRES, reason="needs a database URL with a password: runs in the PostgreSQL pass")
def test_init_never_prints_the_database_password(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = make_url(Settings.from_env().db_url).set(password="pw-never-shown")  # trust auth ignores it
    monkeypatch.setenv("DEPUTY_DATABASE_URL", url.render_as_string(hide_password=False))
    output = ok("init")
    assert "pw-never-shown" not in output and "***" in output
