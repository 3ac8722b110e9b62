"""The ASGI application: the only server package that imports the web framework."""

from __future__ import annotations

from deputy.http.app import create_app

__all__ = ["create_app"]
