"""The layering rules of docs/STYLE.md, checked: the protocol core never imports the web
framework or SQL, and the public surface is explicit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import deputy.audit
import deputy.errors
import deputy.jose
import deputy.policy

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_core_imports_without_server_dependencies() -> None:
    """The JOSE, policy and protocol packages load with the web framework and SQL blocked."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'sqlalchemy', 'uvicorn', 'typer'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import deputy.protocol.token_endpoint, deputy.policy, deputy.jose, deputy.audit\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr


def test_public_surfaces_are_explicit() -> None:
    for module in (deputy.errors, deputy.jose, deputy.audit, deputy.policy):
        exported = module.__all__
        assert exported, module.__name__
        for name in exported:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_source_type_checks_strictly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "src"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:]
