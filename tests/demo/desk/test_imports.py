"""The desk's public surface, and that it loads without Deputy's server internals."""

from __future__ import annotations

import subprocess
import sys

import deputy.demo.desk


def test_public_surface_is_explicit() -> None:
    for name in ("IncidentDesk", "Incident", "DeskUser", "AccessEntry", "seed_desk", "create_desk_app"):
        assert name in deputy.demo.desk.__all__
    for name in deputy.demo.desk.__all__:
        assert hasattr(deputy.demo.desk, name), name


def test_the_desk_loads_without_deputys_server() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'sqlalchemy' or name.startswith(('deputy.storage', 'deputy.protocol',\n"
        "                'deputy.http', 'deputy.runtime', 'deputy.admin', 'deputy.cli')):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import deputy.demo.desk, deputy.demo.desk.__main__\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr
