"""Run the incident desk alone: ``python -m deputy.demo.desk --issuer http://127.0.0.1:8000``.

It trusts tokens from ``--issuer`` (found through its RFC 8414 metadata) whose audience is
``--resource``, serves the seed data on 127.0.0.1, and writes its access log to the terminal. The
introspection client secret is read from the environment (``DESK_INTROSPECTION_SECRET``), never
from the command line, where other users of the machine could see it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from deputy.demo.desk.app import create_desk_app
from deputy.demo.desk.seed import seed_desk
from deputy.resource import Introspection, TokenVerifier
from deputy.resource.asgi import ProtectedResource

DEFAULT_RESOURCE = "https://incidents.example"
SECRET_VARIABLE = "DESK_INTROSPECTION_SECRET"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deputy.demo.desk", description="Run the incident desk alone.")
    parser.add_argument("--issuer", required=True, help="the token issuer, exactly as tokens' iss says it")
    parser.add_argument("--resource", default=DEFAULT_RESOURCE, help=f"this API's identifier (default {DEFAULT_RESOURCE})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8300, help="port to listen on (default 8300)")
    parser.add_argument("--introspection-client", metavar="CLIENT_ID",
                        help=f"introspect every token as this client; its secret comes from ${SECRET_VARIABLE}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    introspection = None
    if args.introspection_client:
        secret = os.environ.get(SECRET_VARIABLE, "")
        if not secret:
            print(f"error: --introspection-client needs the client's secret in ${SECRET_VARIABLE}", file=sys.stderr)
            return 2
        introspection = Introspection(args.introspection_client, secret)
    try:
        verifier = TokenVerifier(args.issuer, args.resource, introspection=introspection)
        # The challenge points at this process's own metadata document: the resource identifier
        # (https://incidents.example) is a name, not a host that answers.
        resource = ProtectedResource(
            verifier,
            scopes_supported=["incidents:read", "incidents:write", "hr:read"],
            resource_name="Incident desk",
            metadata_url=f"http://{args.host}:{args.port}/.well-known/oauth-protected-resource",
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    import uvicorn  # the server extra; imported here so that the desk's modules do not need it

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_desk_app(seed_desk(), resource)
    print(f"incident desk on http://{args.host}:{args.port}/api/now/table/incident (tokens from {args.issuer})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
