"""Helpers for building token requests without HTTP."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from deputy.protocol.request import FormRequest


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(params: Mapping[str, str | list[str]], auth: tuple[str, str] | None = None) -> FormRequest:
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        for item in [value] if isinstance(value, str) else value:
            pairs.append((name, item))
    return FormRequest.from_pairs(pairs, basic(*auth) if auth else None)
