"""The in-process realm cache: a change made through this process is seen at once; a change made
by another process within one second (issue #8), proven with a second process on the same store."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, update

from deputy.errors import OAuthError
from deputy.protocol.response import Response
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from deputy.storage.realm_cache import RealmCache
from deputy.storage.schema import agents
from tests.conftest import ACCESS_TOKEN_TYPE, AGENT, INCIDENTS, ISSUER, TOKEN_EXCHANGE
from tests.helpers import form

# The other process: a second Deputy on the same database, making one realm change.
OTHER_PROCESS = textwrap.dedent(
    """
    import json, sys
    from dataclasses import replace
    from pathlib import Path
    from deputy.config import Settings
    from deputy.realm import AgentStatus
    from deputy.runtime import Deputy

    args = json.loads(sys.argv[1])
    settings = Settings(issuer=args["issuer"], home=Path(args["home"]), admin_token="x" * 20,
                        database_url=args["url"])
    deputy = Deputy.open(settings, initialise=False)
    admin = deputy.admin("other-process")
    if args["change"] == "disable-user":
        admin.put_user(replace(deputy.store.realm.get_user("jane"), disabled=True))
    elif args["change"].startswith("revoke:"):
        assert admin.revoke_token(args["change"].removeprefix("revoke:")) >= 1
    else:
        admin.set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    deputy.close()
    """
)


def _exchange(deputy: Deputy, subject: str) -> Response | OAuthError:
    request = form({"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN_TYPE,
                    "resource": INCIDENTS}, AGENT)
    try:
        return deputy.token.handle(request)
    except OAuthError as error:
        return error


def _client_credentials(deputy: Deputy) -> Response | OAuthError:
    try:
        return deputy.token.handle(form({"grant_type": "client_credentials", "resource": INCIDENTS}, AGENT))
    except OAuthError as error:
        return error


def _in_other_process(deputy: Deputy, change: str) -> None:
    args = {"issuer": ISSUER, "home": str(deputy.settings.home), "url": deputy.settings.db_url, "change": change}
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, json.dumps(args)], check=True, timeout=120)


def _seconds_until_refused(attempt: object, limit: float = 5.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        result = attempt()  # type: ignore[operator]
        if isinstance(result, OAuthError):
            return time.monotonic() - start
        time.sleep(0.02)
    return float("inf")


@pytest.mark.parametrize("change", ["disable-user", "suspend-agent"])
def test_a_change_in_another_process_is_honoured_within_one_second(any_deputy: Deputy, change: str) -> None:
    deputy = any_deputy
    subject = deputy.admin().issue_user_token("jane", AGENT[0], ["incidents:read"])
    assert isinstance(_exchange(deputy, subject), Response)  # the realm is now cached here
    assert isinstance(_client_credentials(deputy), Response)

    _in_other_process(deputy, change)

    if change == "disable-user":
        elapsed = _seconds_until_refused(lambda: _exchange(deputy, subject))
    else:
        # Client credentials touch no lineage: only the (cached) agent status can refuse them.
        elapsed = _seconds_until_refused(lambda: _client_credentials(deputy))
    assert elapsed <= 1.0, f"still accepted {elapsed:.2f} s after the other process committed"


def test_a_token_revoked_by_another_process_is_refused_here_at_once(any_deputy: Deputy) -> None:
    """Revocations are never cached: the lineage is read on every exchange and introspection, so
    a revocation committed by another process is honoured by the very next request here."""
    deputy = any_deputy
    subject = deputy.admin().issue_user_token("jane", AGENT[0], ["incidents:read"])
    issued = _exchange(deputy, subject)
    assert isinstance(issued, Response)
    delegated = issued.body["access_token"]
    payload = delegated.split(".")[1]
    jti = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]

    def active() -> bool:
        return bool(deputy.introspection.handle(form({"token": delegated}, AGENT)).body["active"])

    assert active()  # and the lineage row was read here before the other process acts
    _in_other_process(deputy, f"revoke:{jti}")
    assert not active()
    # the user's own token, the parent, is untouched: revocation cascades down, never up
    assert isinstance(_exchange(deputy, subject), Response)


def test_a_change_through_this_process_is_seen_at_once(deputy: Deputy) -> None:
    assert isinstance(_client_credentials(deputy), Response)
    deputy.admin().set_agent_status(AGENT[0], AgentStatus.SUSPENDED)
    refused = _client_credentials(deputy)
    assert isinstance(refused, OAuthError) and refused.reason == "client_not_active"

    # Also through a second Deputy in this process (e.g. the CLI next to a server in tests).
    deputy.admin().set_agent_status(AGENT[0], AgentStatus.ACTIVE)
    assert isinstance(_client_credentials(deputy), Response)
    other = Deputy.open(deputy.settings, initialise=False)
    try:
        other.admin().set_agent_status(AGENT[0], AgentStatus.SUSPENDED)
    finally:
        other.close()
    assert isinstance(_client_credentials(deputy), OAuthError)


def test_entries_expire_after_max_age_and_never_outlive_a_local_write(deputy: Deputy) -> None:
    now = [100.0]
    cache = RealmCache(deputy.store.realm, deputy.store.db, max_age=1.0, monotonic=lambda: now[0])
    assert cache.get_agent(AGENT[0]).status is AgentStatus.ACTIVE  # type: ignore[union-attr]

    # A write the cache cannot see (another process: its own engine, outside this Database).
    foreign = create_engine(deputy.settings.db_url)
    with foreign.begin() as conn:
        conn.execute(update(agents).where(agents.c.client_id == AGENT[0]).values(status="suspended"))
    foreign.dispose()
    now[0] += 0.99
    assert cache.get_agent(AGENT[0]).status is AgentStatus.ACTIVE  # type: ignore[union-attr]
    now[0] += 0.01
    assert cache.get_agent(AGENT[0]).status is AgentStatus.SUSPENDED  # type: ignore[union-attr]

    # A write through this process: seen at once, whatever the age.
    user = cache.get_user("jane")
    assert user is not None and not user.disabled
    deputy.admin().put_user(replace(user, disabled=True))
    assert cache.get_user("jane").disabled  # type: ignore[union-attr]


def test_unknown_names_do_not_grow_the_cache_without_bound(deputy: Deputy) -> None:
    cache = RealmCache(deputy.store.realm, deputy.store.db)
    for i in range(10_050):
        cache._entries[("agent", f"nobody-{i}")] = (None, 0, 0.0)  # as if looked up
    assert cache.get_agent("nobody-x") is None
    assert len(cache._entries) <= 10_000
