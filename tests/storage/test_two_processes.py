"""Two server processes exchanging at once on one store (the flock queue and group commit on
SQLite, the advisory lock on PostgreSQL): every issued token has one lineage record and one
token.issued event, and the audit chain verifies."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter

from sqlalchemy import select

from deputy.audit import verify_chain
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from deputy.storage.schema import tokens
from tests.conftest import AGENT, ISSUER

PER_PROCESS = 60

WORKER = textwrap.dedent(
    """
    import base64, json, sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    from deputy.config import Settings
    from deputy.protocol.request import FormRequest
    from deputy.runtime import Deputy

    args = json.loads(sys.argv[1])
    settings = Settings(issuer=args["issuer"], home=Path(args["home"]), admin_token="x" * 20,
                        database_url=args["url"])
    deputy = Deputy.open(settings, initialise=False)
    basic = "Basic " + base64.b64encode(args["auth"].encode()).decode()

    def exchange(i):
        pairs = [("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                 ("subject_token", args["subjects"][i % len(args["subjects"])]),
                 ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
                 ("resource", "https://incidents.example")]
        body = deputy.token.handle(FormRequest.from_pairs(pairs, basic)).body
        payload = body["access_token"].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]

    with ThreadPoolExecutor(8) as pool:
        print(json.dumps(list(pool.map(exchange, range(args["count"])))))
    deputy.close()
    """
)


def test_two_processes_exchanging_at_once(any_deputy: Deputy) -> None:
    deputy = any_deputy
    admin = deputy.admin()
    subjects = [admin.issue_user_token(user, AGENT[0], ["incidents:read"]) for user in ("jane", "bob") * 5]
    args = json.dumps({"issuer": ISSUER, "home": str(deputy.settings.home), "url": deputy.settings.db_url,
                       "auth": ":".join(AGENT), "subjects": subjects, "count": PER_PROCESS})
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, args], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    jtis = [jti for out in outputs for jti in json.loads(out)]
    assert len(set(jtis)) == 2 * PER_PROCESS

    with deputy.store.db.read() as conn:
        rows = conn.execute(select(tokens.c.jti).where(tokens.c.jti.in_(jtis))).all()
    assert Counter(r.jti for r in rows) == Counter(jtis)  # one lineage record each
    issued = Counter(r.event.jti for r in deputy.store.audit.records(AuditFilter(type="token.issued"))
                     if r.event.jti in set(jtis))
    assert issued == Counter(jtis)  # one token.issued event each
    checked, broken = verify_chain(deputy.store.audit.records())
    assert broken is None, broken
    assert checked == deputy.store.audit.count()
