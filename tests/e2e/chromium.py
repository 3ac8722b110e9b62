"""A real headless Chromium for the console's browser tests (issue 7): Debian's ``chromium``
package driven by Playwright's Python API, launched by its executable path.

The set-up installs what it needs: when no Chromium is found and the tests run as root on a
system with ``apt-get``, it installs the ``chromium`` package. Only where no browser can be had
(or Playwright is missing) are the tests skipped, and then loudly, on stderr and in the skip
reason. ``DEPUTY_CHROMIUM`` names another executable. A failing step leaves a screenshot in a
temporary directory whose path is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _find() -> str | None:
    configured = os.environ.get("DEPUTY_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _install() -> str:
    """Try to install Debian's chromium; returns what happened (for the skip message)."""
    if os.name != "posix" or os.geteuid() != 0:
        return "not running as root, so the chromium package cannot be installed"
    if shutil.which("apt-get") is None:
        return "no apt-get on this system"
    try:
        result = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"], capture_output=True, text=True,
            timeout=900, check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get install chromium failed: {exc}"
    return "" if result.returncode == 0 else f"apt-get install chromium failed: {result.stderr.strip()[-300:]}"


def _skip_loudly(why: str) -> None:
    message = f"BROWSER TESTS SKIPPED: NO BROWSER COULD BE INSTALLED OR LAUNCHED ({why})"
    print("\n" + "!" * 100 + f"\n{message}\n" + "!" * 100, file=sys.__stderr__, flush=True)
    pytest.skip(message)


def chromium_executable() -> str:
    found = _find()
    if found is None:
        problem = _install()
        found = _find()
        if found is None:
            _skip_loudly(problem or "the chromium package installed no executable")
    assert found is not None
    return found


@contextmanager
def launched() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``), closed when the block ends."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _skip_loudly(f"Playwright is not installed: {exc}")
    executable = chromium_executable()
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.name == "posix" and os.geteuid() == 0 else []
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        except PlaywrightError as exc:
            _skip_loudly(f"{executable} did not start: {str(exc).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page: Any, name: str) -> Iterator[None]:
    """Run a scenario; if it fails, save a full-page screenshot and print where it is."""
    try:
        yield
    except BaseException:
        folder = Path(tempfile.mkdtemp(prefix="deputy-browser-"))
        path = folder / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"\nscreenshot of the failed browser test {name}: {path} (page {page.url})", file=sys.__stderr__, flush=True)
        except Exception as exc:  # the page may be gone; the original failure matters more
            print(f"\nno screenshot for {name}: {exc}", file=sys.__stderr__, flush=True)
        raise
