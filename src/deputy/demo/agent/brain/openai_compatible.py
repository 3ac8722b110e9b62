"""A brain backed by any OpenAI-compatible chat-completions endpoint, with tool (function) calling.

``POST {url}/chat/completions`` with the agent's MCP tools offered as functions; each
``tool_calls`` entry the model returns is run through the MCP session (as the user) and its result
sent back as a ``tool`` message, until the model answers in plain text or ``max_rounds`` is
reached. The API key, if any, comes from an environment variable and is sent only as
``Authorization: Bearer`` to that endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from deputy.demo.agent.brain.base import Answer, BrainError, CallTool, ToolCall, ToolSpec
from deputy.secret import Secret

__all__ = ["SYSTEM_PROMPT", "OpenAICompatible"]

SYSTEM_PROMPT = (
    "You are an incident-desk assistant. Use the tools to answer; they act as the signed-in user and "
    "return only what that user may see. In encoded queries, assigned_to=me means the user. Be concise."
)


class OpenAICompatible:
    """``url`` is the API base (e.g. ``http://127.0.0.1:11434/v1``); ``model`` its model name."""

    def __init__(self, url: str, model: str, api_key: Secret | None = None, *, max_rounds: int = 5,
                 timeout: float = 60.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the LLM URL must be http(s), not {url!r}")
        if not model:
            raise ValueError("give the LLM's model name")
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.max_rounds = max_rounds
        self.timeout = timeout
        self.transport = transport

    @property
    def name(self) -> str:
        return f"LLM {self.model} at {self.url}"

    async def answer(self, question: str, tools: Sequence[ToolSpec], call: CallTool) -> Answer:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question},
        ]
        functions = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}
            for t in tools
        ]
        calls: list[ToolCall] = []
        headers = {"Authorization": f"Bearer {self.api_key.reveal()}"} if self.api_key else {}
        async with httpx.AsyncClient(headers=headers, timeout=self.timeout, transport=self.transport,
                                     follow_redirects=False) as client:
            for _ in range(self.max_rounds):
                message = await self._complete(client, messages, functions)
                requested = message.get("tool_calls") or []
                if not requested:
                    return Answer(self.name, str(message.get("content") or ""), tuple(calls))
                messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": requested})
                for item in requested:
                    done = await self._run(item, call)
                    calls.append(done)
                    content = {"error": done.error} if done.error else done.result
                    messages.append({"role": "tool", "tool_call_id": str(item.get("id", "")),
                                     "content": json.dumps(content)})
        return Answer(self.name, f"The model did not finish within {self.max_rounds} rounds.", tuple(calls))

    async def _complete(self, client: httpx.AsyncClient, messages: list[dict[str, Any]],
                        functions: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"model": self.model, "messages": messages, "tools": functions, "tool_choice": "auto"}
        try:
            response = await client.post(f"{self.url}/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise BrainError(f"The LLM endpoint {self.url} could not be reached ({type(exc).__name__}).") from None
        if response.status_code != 200:
            raise BrainError(f"The LLM endpoint answered {response.status_code}.")
        try:
            message = response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise BrainError("The LLM endpoint's answer is not a chat completion.") from None
        if not isinstance(message, dict):
            raise BrainError("The LLM endpoint's answer is not a chat completion.")
        return message

    @staticmethod
    async def _run(item: Any, call: CallTool) -> ToolCall:
        function = item.get("function") if isinstance(item, dict) else None
        name = str(function.get("name", "")) if isinstance(function, dict) else ""
        try:
            arguments = json.loads(function.get("arguments") or "{}") if isinstance(function, dict) else None
        except (ValueError, TypeError):
            arguments = None
        if not name or not isinstance(arguments, dict):
            return ToolCall(name or "?", {}, error="the model asked for a tool call that is not well-formed")
        return await call(name, arguments)
