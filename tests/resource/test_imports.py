"""The resource SDK needs none of the server's dependencies (and Starlette only for its
integration module); its public surface is explicit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import deputy.resource
import deputy.resource.asgi

SERVER_ONLY = ("sqlalchemy", "uvicorn", "typer", "alembic", "argon2", "jinja2", "rich", "psycopg")
BLOCKER = textwrap.dedent(
    """
    import sys
    BLOCKED = {blocked!r}
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in BLOCKED:
                raise ImportError('blocked ' + name)
    sys.meta_path.insert(0, Block())
    """
)


def run(code: str, blocked: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    script = BLOCKER.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)


def test_the_sdk_works_without_the_server_or_starlette() -> None:
    """Import it and verify a token, with every server dependency and Starlette blocked."""
    result = run(
        """
        import httpx
        from joserfc import jwt
        from joserfc.jwk import ECKey
        import deputy.resource as r
        from deputy.clock import FixedClock

        key = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256"}, private=True)
        jwks = {"keys": [key.as_dict(private=False)]}
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
        verifier = r.TokenVerifier("https://as.example", "https://api.example", jwks_uri="https://as.example/jwks",
                                   clock=FixedClock(1_800_000_000), http_client=httpx.Client(transport=transport))
        claims = {"iss": "https://as.example", "aud": "https://api.example", "sub": "jane", "client_id": "a",
                  "jti": "j1", "iat": 1_800_000_000, "exp": 1_800_000_300, "act": {"sub": "agent"}}
        token = jwt.encode({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}, claims, key)
        assert verifier.verify(token).agent == "agent"
        server = [m for m in sys.modules if m.split('.')[0] in ('starlette',) + BLOCKED
                  or m.startswith(('deputy.storage', 'deputy.http', 'deputy.protocol', 'deputy.cli',
                                   'deputy.admin', 'deputy.runtime', 'deputy.federation'))]
        assert not server, server
        print('ok')
        """,
        (*SERVER_ONLY, "starlette"),
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_the_asgi_integration_needs_no_web_framework() -> None:
    result = run("import deputy.resource.asgi\nprint('ok')\n", (*SERVER_ONLY, "starlette"))
    assert result.stdout.strip() == "ok", result.stderr


def test_public_surface_is_explicit() -> None:
    for module in (deputy.resource, deputy.resource.asgi):
        assert module.__all__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
