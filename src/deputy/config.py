"""Settings, validated at start-up: bad configuration fails at boot, never on a request.

Every setting can come from an environment variable ``DEPUTY_<NAME>``.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """Raised at start-up for a setting that cannot work."""


CONFIG_FILE = "deputy.toml"


def read_config_file(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    known = {f.name for f in fields(Settings)} - {"home"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {sorted(unknown)}")
    return dict(data)


def write_config_file(home: Path, values: dict[str, object]) -> None:
    """Remember settings for this home (so that the CLI and the server agree on the issuer)."""
    home.mkdir(parents=True, exist_ok=True)
    current = read_config_file(home / CONFIG_FILE)
    current.update(values)
    lines = [f"{k} = {json.dumps(v)}" for k, v in sorted(current.items())]
    (home / CONFIG_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def default_home() -> Path:
    return Path(os.environ.get("DEPUTY_HOME", ".deputy")).resolve()


@dataclass(frozen=True)
class Settings:
    issuer: str = "http://127.0.0.1:8000"
    database_url: str = field(default="", repr=False)  # may hold a password
    home: Path = field(default_factory=default_home)
    admin_token: str = field(default="", repr=False)
    max_chain_depth: int = 5
    user_token_ttl: int = 3600
    key_overlap_seconds: int = 86400
    key_refresh_seconds: int = 30
    assertion_max_lifetime: int = 600
    clock_leeway: int = 30
    # Trusted external issuers (docs/trusted-issuers.md): at most one key refresh per issuer per
    # issuer_keys_refresh_seconds; keys older than issuer_keys_max_age are fetched again.
    issuer_keys_refresh_seconds: int = 30
    issuer_keys_max_age: int = 3600
    issuer_fetch_timeout: int = 5
    # Sign-in and consent (docs/sign-in.md)
    session_ttl: int = 8 * 3600
    authorization_code_ttl: int = 60
    refresh_token_ttl: int = 30 * 86400
    consent_ttl: int = 90 * 86400
    signin_max_failures: int = 5
    signin_lockout_seconds: int = 900
    dynamic_registration: bool = False
    registration_status: str = "staged"  # status of dynamically registered clients: staged | active
    # Human approval, OpenID CIBA poll mode (docs/approvals.md): the polling interval the agent is
    # told, and how long a request waits for the user (requested_expiry is capped at the maximum).
    ciba_interval: int = 5
    ciba_default_expiry: int = 300
    ciba_max_expiry: int = 600
    # The console (docs/console.md): members of this group see the admin pages.
    console_admin_group: str = "deputy-admins"
    # Rate limits at the token endpoint, requests a minute (0 = off) (docs/operations.md)
    rate_limit_per_client: int = 0
    rate_limit_per_user: int = 0
    rate_limit_burst: int = 0  # bucket size; 0 = one minute's allowance
    redis_url: str = field(default="", repr=False)  # shares rate-limit buckets across processes
    # Prometheus metrics at /metrics (docs/operations.md); a token makes scrapes send it as Bearer
    metrics_enabled: bool = True
    metrics_token: str = field(default="", repr=False)

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
        for name in (
            "user_token_ttl", "key_overlap_seconds", "assertion_max_lifetime", "session_ttl",
            "authorization_code_ttl", "refresh_token_ttl", "consent_ttl", "signin_max_failures",
            "signin_lockout_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.authorization_code_ttl > 600:
            raise ConfigError("authorization_code_ttl must be at most 600 seconds (RFC 6749 §4.1.2)")
        if self.registration_status not in ("staged", "active"):
            raise ConfigError("registration_status must be 'staged' or 'active'")
        if not isinstance(self.dynamic_registration, bool):
            raise ConfigError("dynamic_registration must be true or false")
        for name in ("issuer_keys_refresh_seconds", "issuer_keys_max_age", "issuer_fetch_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if not 1 <= self.ciba_interval <= 60:
            raise ConfigError("ciba_interval must be between 1 and 60 seconds")
        if not 10 <= self.ciba_default_expiry <= self.ciba_max_expiry <= 86400:
            raise ConfigError("ciba_default_expiry and ciba_max_expiry: 10 <= default <= max <= 86400")
        if not self.console_admin_group:
            raise ConfigError("console_admin_group must not be empty")
        for name in ("rate_limit_per_client", "rate_limit_per_user", "rate_limit_burst"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be zero (off) or positive")
        if self.redis_url and urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError("redis_url must be a redis://, rediss:// or unix:// URL")
        if not isinstance(self.metrics_enabled, bool):
            raise ConfigError("metrics_enabled must be true or false")
        if self.metrics_token and len(self.metrics_token) < 16:
            raise ConfigError("metrics_token must be at least 16 characters")
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
        """Settings from ``<home>/deputy.toml``, then ``DEPUTY_*`` variables, then ``overrides``."""
        values: dict[str, object] = {}
        home = overrides.get("home") or default_home()
        values.update(read_config_file(Path(str(home)) / CONFIG_FILE))
        for f in fields(cls):
            raw = os.environ.get(f"DEPUTY_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ConfigError(f"DEPUTY_{f.name.upper()} must be an integer") from None
            elif f.type in ("bool", bool):
                if raw.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ConfigError(f"DEPUTY_{f.name.upper()} must be true or false")
                values[f.name] = raw.strip().lower() in ("true", "1", "yes")
            elif f.name == "home":
                values[f.name] = Path(raw).resolve()
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
