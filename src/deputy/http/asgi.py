"""The ASGI entry point for ``uvicorn --factory`` and multi-worker serving: settings from the
environment (``DEPUTY_*``), one store per worker process."""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from deputy.config import Settings
from deputy.http.app import create_app
from deputy.runtime import Deputy, admin_token_for


def app_from_env() -> Starlette:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    deputy = Deputy.open(settings)
    return create_app(deputy, admin_token_for(settings))
