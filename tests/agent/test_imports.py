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


def test_every_sdk_module_imports_without_the_server() -> None:
    """Each module of deputy.agent on its own, every server dependency blocked. ``deputy.agent.mcp``
    may load only what the ``mcp`` client itself imports (mcp 2 pulls in starlette and uvicorn):
    those are imported first, and everything else stays blocked."""
    import pkgutil

    modules = sorted(f"deputy.agent.{m.name}" for m in pkgutil.iter_modules(deputy.agent.__path__))
    assert "deputy.agent.mcp" in modules
    script = textwrap.dedent(
        f"""
        import importlib, sys
        BLOCKED = {BLOCKED!r}
        import mcp.client.session, mcp.client.streamable_http  # the MCP SDK's own dependencies
        theirs = {{m.split('.')[0] for m in sys.modules}} & set(BLOCKED)
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in BLOCKED and name.split('.')[0] not in theirs:
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, Block())
        for name in {modules!r}:
            importlib.import_module(name)
        loaded = [m for m in sys.modules
                  if (m.split('.')[0] in BLOCKED and m.split('.')[0] not in theirs) or m.startswith({SERVER_PACKAGES!r})]
        assert not loaded, loaded
        print('ok')
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_import_deputy_agent_does_not_import_mcp() -> None:
    script = "import sys, deputy.agent; assert 'mcp' not in sys.modules and 'httpx2' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
