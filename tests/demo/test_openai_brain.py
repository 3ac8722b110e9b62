"""The OpenAI-compatible brain against a fake chat-completions server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deputy.demo.agent.brain import BrainError, OpenAICompatible, ToolCall, ToolSpec
from deputy.demo.agent.host import ask
from deputy.demo.servers import ServerThread, bind_loopback
from deputy.demo.stack import DemoStack
from deputy.secret import Secret
from tests.demo.conftest import user_token

QUERY = {"query": "assigned_to=me^ORDERBYDESCopened_at", "limit": 5}


class FakeLLM:
    """Asks for one query_incidents call, then answers with the numbers it was given."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200

    async def completions(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.status != 200:
            return JSONResponse({"error": {"message": "overloaded"}}, self.status)
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_messages:
            call = {"id": "call_1", "type": "function",
                    "function": {"name": "query_incidents", "arguments": json.dumps(QUERY)}}
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            records = json.loads(tool_messages[-1]["content"])["result"]
            message = {"role": "assistant", "content": "Yours: " + ", ".join(r["number"] for r in records)}
        return JSONResponse({"id": "x", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


@pytest.fixture
def llm() -> Iterator[tuple[FakeLLM, str]]:
    fake = FakeLLM()
    server = ServerThread("fake-llm", bind_loopback())
    server.start(Starlette(routes=[Route("/v1/chat/completions", fake.completions, methods=["POST"])]))
    try:
        yield fake, f"{server.url}/v1"
    finally:
        server.stop()


def test_the_llm_drives_the_tools_as_jane(stack: DemoStack, llm: tuple[FakeLLM, str]) -> None:
    fake, url = llm
    brain = OpenAICompatible(url, "fake-model", Secret("sk-test-key"))
    jane = user_token(stack, "jane")
    answer = asyncio.run(ask(stack.mcp_url, jane, "Show me 5 incidents assigned to me", brain))

    assert answer.brain == f"LLM fake-model at {url}"
    [call] = answer.calls
    assert call.name == "query_incidents" and call.arguments == QUERY and call.error is None
    numbers = [r["number"] for r in call.records]
    assert len(numbers) == 5 and answer.text == "Yours: " + ", ".join(numbers)
    [entry] = stack.desk.access_log()
    assert entry.user == "jane" and entry.chain == ("incident-agent",)

    first, second = fake.requests
    assert first["model"] == "fake-model" and first["tool_choice"] == "auto"
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert set(offered) == {"query_incidents", "get_incident", "update_incident", "triage_incidents"}
    assert offered["query_incidents"]["parameters"]["properties"]["limit"]["type"] == "integer"
    assert first["messages"][-1] == {"role": "user", "content": "Show me 5 incidents assigned to me"}
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["tool_call_id"] == "call_1"
    assert all(h["authorization"] == "Bearer sk-test-key" for h in fake.headers)
    assert jane not in json.dumps(fake.requests)  # the user's token never goes to the model


def test_an_endpoint_failure_is_a_clear_error(llm: tuple[FakeLLM, str]) -> None:
    fake, url = llm
    fake.status = 503

    async def call(name: str, arguments: dict[str, Any]) -> ToolCall:
        raise AssertionError("no tool may be called")

    with pytest.raises(BrainError, match="answered 503"):
        asyncio.run(OpenAICompatible(url, "m").answer("hi", [ToolSpec("t", "", {})], call))
    assert "authorization" not in fake.headers[0]  # no key configured, none sent


def test_the_rounds_are_bounded(llm: tuple[FakeLLM, str]) -> None:
    _, url = llm
    brain = OpenAICompatible(url, "m", max_rounds=1)
    calls: list[str] = []

    async def call(name: str, arguments: dict[str, Any]) -> ToolCall:
        calls.append(name)
        return ToolCall(name, arguments, result={"result": []})

    answer = asyncio.run(brain.answer("hi", [], call))
    assert calls == ["query_incidents"] and "did not finish within 1 rounds" in answer.text


def test_bad_settings_fail_when_built() -> None:
    with pytest.raises(ValueError):
        OpenAICompatible("ftp://x", "m")
    with pytest.raises(ValueError):
        OpenAICompatible("http://127.0.0.1:1/v1", "")
