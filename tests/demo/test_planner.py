"""The deterministic planner: which tool calls a question becomes, and what it says."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from deputy.demo.agent.brain import PLANNER_NAME, Planner, ToolCall, ToolSpec

TOOLS = [ToolSpec(name, "", {}) for name in ("query_incidents", "get_incident", "update_incident", "triage_incidents")]
RECORD = {"sys_id": "abc123", "number": "INC0010001", "priority": "2", "state": "2", "short_description": "VPN drops"}


def plan(question: str, results: dict[str, Any] | None = None) -> tuple[str, list[ToolCall]]:
    made: list[ToolCall] = []

    async def call(name: str, arguments: dict[str, Any]) -> ToolCall:
        done = ToolCall(name, arguments, result=(results or {}).get(name, {"result": [RECORD]}))
        made.append(done)
        return done

    answer = asyncio.run(Planner().answer(question, TOOLS, call))
    assert answer.brain == PLANNER_NAME and "not an LLM" in answer.brain
    assert list(answer.calls) == made
    return answer.text, made


def test_the_story_question_is_a_query_for_my_five_newest() -> None:
    text, calls = plan("Show me 5 incidents assigned to me")
    assert [(c.name, c.arguments) for c in calls] == [
        ("query_incidents", {"query": "assigned_to=me^ORDERBYDESCopened_at", "limit": 5})
    ]
    assert "INC0010001" in text and "VPN drops" in text


@pytest.mark.parametrize(("question", "limit"), [("show me three incidents assigned to me", 3),
                                                  ("my incidents", 5), ("show me 12 of my incidents", 12)])
def test_counts_in_words_and_digits(question: str, limit: int) -> None:
    _, calls = plan(question)
    assert calls[0].name == "query_incidents" and calls[0].arguments["limit"] == limit


def test_other_peoples_incidents_are_not_filtered_to_me() -> None:
    _, calls = plan("show me 2 high priority incidents")
    assert calls[0].arguments == {"query": "priority=1^ORDERBYDESCopened_at", "limit": 2}


def test_a_number_is_a_get() -> None:
    _, calls = plan("What is inc0010004 about?")
    assert [(c.name, c.arguments) for c in calls] == [("get_incident", {"number": "INC0010004"})]


def test_an_update_finds_the_sys_id_first() -> None:
    text, calls = plan("Set INC0010001 state to In Progress")
    assert [(c.name, c.arguments) for c in calls] == [
        ("get_incident", {"number": "INC0010001"}),
        ("update_incident", {"sys_id": "abc123", "updates": {"state": "In Progress"}}),
    ]
    assert text == "Updated INC0010001: state = In Progress."


def test_triage_goes_to_the_triage_tool() -> None:
    text, calls = plan("triage my incidents")
    assert [(c.name, c.arguments) for c in calls] == [("triage_incidents", {"query": "assigned_to=me", "limit": 5})]
    assert "triage-agent" in text


def test_a_tool_error_is_the_answer() -> None:
    made: list[ToolCall] = []

    async def call(name: str, arguments: dict[str, Any]) -> ToolCall:
        made.append(ToolCall(name, arguments, error="Deputy refused the token exchange"))
        return made[-1]

    answer = asyncio.run(Planner().answer("show me my incidents", TOOLS, call))
    assert answer.text == "Deputy refused the token exchange"


def test_it_says_plainly_when_it_does_not_understand() -> None:
    text, calls = plan("what's the weather like?")
    assert calls == [] and "deterministic planner, not an LLM" in text and "show me 5 incidents" in text
