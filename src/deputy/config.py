"""Settings, validated at start-up: bad configuration fails at boot, never on a request.

Every setting can come from an environment variable ``DEPUTY_<NAME>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """Raised at start-up for a setting that cannot work."""


def default_home() -> Path:
    return Path(os.environ.get("DEPUTY_HOME", ".deputy")).resolve()


@dataclass(frozen=True)
class Settings:
    issuer: str = "http://127.0.0.1:8000"
    database_url: str = ""
    home: Path = field(default_factory=default_home)
    admin_token: str = ""
    max_chain_depth: int = 5
    client_credentials_ttl: int = 300
    user_token_ttl: int = 3600
    key_overlap_seconds: int = 86400
    key_refresh_seconds: int = 30
    assertion_max_lifetime: int = 600
    clock_leeway: int = 30

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError("issuer must be an http(s) URL with no query or fragment (RFC 8414 §2)")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("issuer must use https unless it is on the loopback interface")
        if self.issuer.endswith("/"):
            raise ConfigError("issuer must not end with '/'")
        if not 1 <= self.max_chain_depth <= 32:
            raise ConfigError("max_chain_depth must be between 1 and 32")
        for name in ("client_credentials_ttl", "user_token_ttl", "key_overlap_seconds", "assertion_max_lifetime"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.admin_token and len(self.admin_token) < 16:
            raise ConfigError("admin_token must be at least 16 characters")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'deputy.db'}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"DEPUTY_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ConfigError(f"DEPUTY_{f.name.upper()} must be an integer") from None
            elif f.name == "home":
                values[f.name] = Path(raw).resolve()
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
