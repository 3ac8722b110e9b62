"""Audit events. An event is what happened; a record is an event placed in the chain."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Outcome = Literal["success", "failure"]
_FLAT = (str, int, float, bool)


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened. Holds token ids (``jti``), never tokens or secrets."""

    type: str  # <entity>.<verb>, e.g. "token.issued", "token.refused", "agent.suspended"
    outcome: Outcome = "success"
    client_id: str | None = None
    subject: str | None = None
    actor_chain: tuple[str, ...] = ()  # current actor first, then prior actors
    audience: tuple[str, ...] = ()
    grant_type: str | None = None
    scope_requested: tuple[str, ...] | None = None
    scope_granted: tuple[str, ...] | None = None
    mode: str | None = None  # "delegation" | "impersonation" | "client" | "user"
    jti: str | None = None
    parent_jti: str | None = None
    error: str | None = None
    reason: str | None = None
    detail: str | None = None
    admin: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        if all(v is None or isinstance(v, _FLAT) for v in self.data.values()):
            # The common case, without asdict's deep copy (a tenth of a millisecond per
            # token): the fields are strings, tuples of strings or None, ``data`` is flat.
            raw = {name: getattr(self, name) for name in _FIELDS}
            raw["data"] = dict(self.data)
        else:
            raw = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in raw.items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditEvent:
        values = dict(raw)
        for name in ("actor_chain", "audience"):
            values[name] = tuple(values.get(name) or ())
        for name in ("scope_requested", "scope_granted"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(AuditEvent))


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    event_id: str
    time: int
    event: AuditEvent
    prev_hash: str
    hash: str
