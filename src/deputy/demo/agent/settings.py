"""Where the demo agent finds Deputy and the incident desk, and who it is there."""

from __future__ import annotations

from dataclasses import dataclass, field

from deputy.secret import Secret

__all__ = ["DESK_RESOURCE", "AgentSettings"]

DESK_RESOURCE = "https://incidents.example"


@dataclass(frozen=True)
class AgentSettings:
    """The incident agent and the triage agent behind it (the development realm's two agents).

    ``issuer`` is Deputy; ``desk_url`` is where the desk's Table API is served, while
    ``desk_resource`` is its resource identifier (the ``aud`` of the tokens it accepts);
    ``public_url`` is where this agent is served (scheme://host:port), used for its RFC 9728
    metadata and for the triage agent's address.
    """

    issuer: str
    desk_url: str
    public_url: str
    desk_resource: str = DESK_RESOURCE
    client_id: str = "incident-agent"
    client_secret: Secret = field(default_factory=lambda: Secret("incident-agent-dev-secret"))
    triage_client_id: str = "triage-agent"
    triage_secret: Secret = field(default_factory=lambda: Secret("triage-agent-dev-secret"))

    def __post_init__(self) -> None:
        for name in ("issuer", "desk_url", "public_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")) or value.endswith("/"):
                raise ValueError(f"{name} must be an http(s) URL without a trailing slash, not {value!r}")

    @property
    def mcp_url(self) -> str:
        return f"{self.public_url}/mcp"

    @property
    def triage_url(self) -> str:
        return f"{self.public_url}/triage"
