"""The agent's brain, pluggable: the deterministic :class:`Planner` (default, not an LLM) or
:class:`OpenAICompatible` (any chat-completions endpoint with tool calling)."""

from __future__ import annotations

from deputy.demo.agent.brain.base import Answer, Brain, BrainError, CallTool, ToolCall, ToolSpec
from deputy.demo.agent.brain.openai_compatible import OpenAICompatible
from deputy.demo.agent.brain.planner import PLANNER_NAME, Planner, format_records

__all__ = [
    "PLANNER_NAME", "Answer", "Brain", "BrainError", "CallTool", "OpenAICompatible", "Planner", "ToolCall",
    "ToolSpec", "format_records",
]
