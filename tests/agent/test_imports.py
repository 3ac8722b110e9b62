"""The agent SDK needs none of the server's dependencies, not even Starlette; its public surface
is explicit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import deputy.agent

BLOCKED = ("sqlalchemy", "uvicorn", "typer", "alembic", "argon2", "jinja2", "rich", "psycopg", "starlette")
SERVER_PACKAGES = ("deputy.storage", "deputy.http", "deputy.protocol", "deputy.cli", "deputy.admin",
                   "deputy.runtime", "deputy.federation", "deputy.accounts")


def test_the_sdk_works_without_the_server() -> None:
    """Import it and run a flow against a mock token endpoint, with every server dependency blocked."""
    script = textwrap.dedent(
        f"""
        import sys
        BLOCKED = {BLOCKED!r}
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in BLOCKED:
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, Block())
        import httpx
        import deputy.agent as a
        transport = httpx.MockTransport(lambda r: httpx.Response(200, json={{
            "access_token": "t", "token_type": "Bearer", "expires_in": 60}}))
        broker = a.TokenBroker([a.CredentialProvider(
            name="api", flow=a.TokenExchange(), client=a.ClientSecret("agent", "s"),
            token_endpoint="https://as.example/token")], http_client=httpx.Client(transport=transport))
        with a.user_token("u"):
            assert broker.get_token("api").value == "t"
        loaded = [m for m in sys.modules if m.split('.')[0] in BLOCKED or m.startswith({SERVER_PACKAGES!r})]
        assert not loaded, loaded
        print('ok')
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_public_surface_is_explicit() -> None:
    assert deputy.agent.__all__ == sorted(deputy.agent.__all__)
    for name in deputy.agent.__all__:
        assert hasattr(deputy.agent, name), name
