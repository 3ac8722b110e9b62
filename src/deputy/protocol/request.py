"""A parsed OAuth form request, independent of any web framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from deputy.errors import InvalidRequest

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class FormRequest:
    """Form parameters (each possibly repeated) and the Authorization header."""

    params: Mapping[str, tuple[str, ...]]
    authorization: str | None = None
    client_ip: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(
        cls, body: bytes, content_type: str | None, authorization: str | None = None, client_ip: str | None = None
    ) -> FormRequest:
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise InvalidRequest("unsupported_content_type", f"content type {content_type!r}")
        if len(body) > MAX_BODY_BYTES:
            raise InvalidRequest("request_too_large", f"{len(body)} bytes")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequest("invalid_parameter", f"undecodable body: {exc}") from None
        return cls.from_pairs(pairs, authorization, client_ip)

    @classmethod
    def from_pairs(
        cls, pairs: list[tuple[str, str]], authorization: str | None = None, client_ip: str | None = None
    ) -> FormRequest:
        params: dict[str, list[str]] = {}
        for name, value in pairs:
            params.setdefault(name, []).append(value)
        return cls({k: tuple(v) for k, v in params.items()}, authorization, client_ip)

    def one(self, name: str) -> str | None:
        """A single-valued parameter; RFC 6749 §3.2: parameters MUST NOT be included more than
        once. An empty value is treated as omitted (RFC 6749 §3.1)."""
        values = self.params.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequest("duplicate_parameter", f"{name} sent {len(values)} times")
        return values[0] or None

    def required(self, name: str) -> str:
        value = self.one(name)
        if value is None:
            raise InvalidRequest("missing_parameter", f"{name} is required")
        return value

    def many(self, name: str) -> tuple[str, ...]:
        """A parameter that may repeat (``resource``, ``audience``: RFC 8693 §2.1)."""
        return tuple(v for v in self.params.get(name, ()) if v)

    def scopes(self) -> frozenset[str] | None:
        raw = self.one("scope")
        if raw is None:
            return None
        parts = raw.split(" ")
        # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-delimited
        for part in parts:
            if not part or any(ord(c) < 0x21 or c in '"\\' or ord(c) > 0x7E for c in part):
                raise InvalidRequest("invalid_parameter", f"malformed scope {raw!r}")
        return frozenset(parts)
