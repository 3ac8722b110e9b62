"""The default brain: a small deterministic planner. It is not an LLM, and says so.

It understands a handful of phrasings — "show me 5 incidents assigned to me", "show me
INC0012345", "triage my incidents", "set INC0012345 state to In Progress" — and maps each to the
agent's tools exactly as a model with function calling would. Anything else gets a plain "I do not
understand" with examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from deputy.demo.agent.brain.base import Answer, CallTool, ToolCall, ToolSpec

__all__ = ["PLANNER_NAME", "Planner", "format_records", "state_name"]

PLANNER_NAME = "deterministic planner (not an LLM)"
NUMBER = re.compile(r"\bINC\d{4,}\b", re.IGNORECASE)
UPDATE = re.compile(
    r"\b(?:set|update|change|mark)\s+(INC\d{4,})\s+(?:(state|priority)\s+)?(?:to|as|=)\s+(.+?)\s*\.?$",
    re.IGNORECASE,
)
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10}
EXAMPLES = ('"show me 5 incidents assigned to me"', '"show me INC0012345"', '"triage my incidents"',
            '"set INC0012345 state to In Progress"')


def _count(question: str, default: int = 5) -> int:
    match = re.search(r"\b(\d{1,2}|" + "|".join(WORDS) + r")\b", question, re.IGNORECASE)
    if match is None:
        return default
    word = match.group(1).lower()
    return max(1, min(WORDS.get(word) or int(word), 50))


def _query(question: str) -> str:
    text = question.lower()
    parts = []
    if "assigned to me" in text or re.search(r"\bmy\b", text):
        parts.append("assigned_to=me")
    if re.search(r"\b(p1|critical|high[- ]priority)\b", text):
        parts.append("priority=1")
    return "^".join(parts + ["ORDERBYDESCopened_at"])


STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}


def state_name(value: Any) -> str:
    """ServiceNow's incident state codes, as people read them."""
    return STATES.get(str(value), str(value))


def format_records(records: Sequence[dict[str, Any]]) -> str:
    if not records:
        return "No incidents."
    return "\n".join(
        f"{r.get('number', '?')}  P{r.get('priority', '?')}  {state_name(r.get('state', '?')):<12} "
        f"{r.get('short_description', '')}"
        for r in records
    )


class Planner:
    """Maps a few phrasings to tool calls; deterministic, offline, and honest about it."""

    name = PLANNER_NAME

    async def answer(self, question: str, tools: Sequence[ToolSpec], call: CallTool) -> Answer:
        offered = {tool.name for tool in tools}
        calls: list[ToolCall] = []

        async def run(tool: str, arguments: dict[str, Any]) -> ToolCall:
            if tool not in offered:
                done = ToolCall(tool, arguments, error=f"the agent offers no tool {tool!r}")
            else:
                done = await call(tool, arguments)
            calls.append(done)
            return done

        text = await self._plan(question.strip(), run)
        return Answer(self.name, text, tuple(calls))

    async def _plan(self, question: str, run: Any) -> str:
        if update := UPDATE.search(question):
            number, field, value = update.group(1).upper(), (update.group(2) or "state").lower(), update.group(3)
            found: ToolCall = await run("get_incident", {"number": number})
            if found.error or not found.records:
                return found.error or f"No incident {number} that you may see."
            sys_id = str(found.records[0].get("sys_id", ""))
            done: ToolCall = await run("update_incident", {"sys_id": sys_id, "updates": {field: value}})
            return done.error or f"Updated {number}: {field} = {value}."
        if "triage" in question.lower():
            done = await run("triage_incidents", {"query": "assigned_to=me", "limit": _count(question)})
            return done.error or "Most urgent first (ranked by triage-agent):\n" + format_records(done.records)
        if number_match := NUMBER.search(question):
            done = await run("get_incident", {"number": number_match.group(0).upper()})
            return done.error or format_records(done.records)
        if "incident" in question.lower():
            limit = _count(question)
            done = await run("query_incidents", {"query": _query(question), "limit": limit})
            return done.error or format_records(done.records)
        return "I am a deterministic planner, not an LLM, and I did not understand. Try " + ", ".join(EXAMPLES) + "."
