"""Signing in to the console in tests: a user, an administrator, and form fields from pages."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from httpx import Response
from starlette.testclient import TestClient

from deputy.realm import Group, User
from deputy.runtime import Deputy

ADMIN_USER = ("ada", "ada-console-password")


def add_admin(deputy: Deputy, group: str = "deputy-admins") -> None:
    admin = deputy.admin("test")
    if deputy.store.realm.get_group(group) is None:
        admin.put_group(Group(group))
    admin.put_user(User("ada", "Ada Admin", groups=(group,)))
    admin.set_password(*ADMIN_USER)


def field(response: Response, name: str) -> str:
    """The field's value in the page's last form that has it (console pages put the sign-out
    form, with its own CSRF token, in the header, before the page's forms)."""
    found = re.findall(rf'name="{name}" value="([^"]*)"', response.text)
    assert found, f"no {name} in the page"
    return html.unescape(found[-1])


def actions(response: Response, suffix: str) -> list[str]:
    """The paths of the page's forms whose action ends with ``suffix``."""
    return [urlsplit(html.unescape(a)).path for a in re.findall(rf'action="([^"]*{re.escape(suffix)})"', response.text)]


def console_sign_in(client: TestClient, username: str = "jane", password: str = "jane-dev-password",
                    next_path: str = "/console/approvals") -> None:
    page = client.get(f"/signin?next={next_path}")
    r = client.post("/signin", data={"csrf_token": field(page, "csrf_token"), "username": username,
                                     "password": password, "next": next_path}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(next_path), r.text
