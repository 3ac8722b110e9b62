"""What every brain works with: the tools the agent offers, a way to call them, the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Answer", "Brain", "BrainError", "CallTool", "ToolCall", "ToolSpec"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the MCP server lists it (``input_schema`` is JSON Schema)."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call made while answering: its arguments and either its result or its error."""

    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: str | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The incidents in the result (``{"result": [...]}`` or ``{"result": {...}}``)."""
        body = self.result.get("result") if isinstance(self.result, dict) else None
        if isinstance(body, dict):
            return [body]
        return [r for r in body if isinstance(r, dict)] if isinstance(body, list) else []


CallTool = Callable[[str, dict[str, Any]], Awaitable[ToolCall]]


@dataclass(frozen=True)
class Answer:
    """What the brain says, which brain said it, and every tool call behind it."""

    brain: str
    text: str
    calls: tuple[ToolCall, ...] = field(default=())


class BrainError(Exception):
    """The brain could not answer (e.g. the LLM endpoint failed); ``str()`` is safe to show."""


class Brain(Protocol):
    """Turns a question into tool calls and the calls' results into an answer."""

    @property
    def name(self) -> str: ...

    async def answer(self, question: str, tools: Sequence[ToolSpec], call: CallTool) -> Answer: ...
