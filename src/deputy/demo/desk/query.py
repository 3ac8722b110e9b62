"""ServiceNow encoded queries (``sysparm_query``): parse them, and evaluate them on records.

Pure functions, no I/O. The supported subset is what an agent asking for "my incidents" uses:

- conditions ``field=value``, ``field!=value``, ``fieldLIKEvalue`` (contains),
  ``fieldSTARTSWITHvalue``; comparisons ignore case, as ServiceNow's do on string fields;
- ``^`` joins conditions with AND; ``^OR`` joins a condition to the one before it with OR, and OR
  binds tighter than AND (``a^b^ORc`` is ``a AND (b OR c)``), as in ServiceNow;
- ``ORDERBYfield`` and ``ORDERBYDESCfield``, anywhere in the query, the first one the primary key;
- the value ``me`` (or ServiceNow's ``javascript:gs.getUserID()``) stands for the caller;
- a trailing ``^EQ`` (which ServiceNow's list UI appends) is accepted and means nothing.

Anything else (``^NQ``, dot-walking, unknown operators or fields) is refused with a
:class:`QueryError` that names the problem: a query the desk would silently half-understand could
return records the caller did not ask for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

__all__ = [
    "CALLER_VALUES",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "Condition",
    "EncodedQuery",
    "Operator",
    "Ordering",
    "QueryError",
    "matches",
    "parse_query",
    "sort_records",
]

MAX_QUERY_LENGTH = 2048
MAX_TERMS = 64
CALLER_VALUES = frozenset({"me", "javascript:gs.getUserID()"})

# Field names are lower case in ServiceNow, operators upper case: the boundary is unambiguous.
_CONDITION = re.compile(r"([a-z_][a-z0-9_]*)(!=|=|LIKE|STARTSWITH)(.*)", re.DOTALL)
_FIELD = re.compile(r"[a-z_][a-z0-9_]*")


class QueryError(ValueError):
    """The encoded query cannot be understood; ``str(error)`` says why (safe to show the caller)."""


class Operator(Enum):
    EQUALS = "="
    NOT_EQUALS = "!="
    LIKE = "LIKE"
    STARTSWITH = "STARTSWITH"


@dataclass(frozen=True)
class Condition:
    """One condition; ``value`` is None when the query said ``me``: the caller's user name."""

    field: str
    operator: Operator
    value: str | None

    def text(self) -> str:
        """The condition in encoded-query form."""
        return f"{self.field}{self.operator.value}{'me' if self.value is None else self.value}"


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class EncodedQuery:
    """A conjunction of OR-groups (each a non-empty tuple of conditions), and the sort order."""

    groups: tuple[tuple[Condition, ...], ...] = ()
    order: tuple[Ordering, ...] = ()


def _shown(term: str) -> str:
    return term if len(term) <= 60 else term[:57] + "..."


def _known(field: str, fields: Collection[str], term: str) -> str:
    if field not in fields:
        raise QueryError(f"unknown field {field!r} in {_shown(term)!r}")
    return field


def _ordering(term: str, fields: Collection[str]) -> Ordering:
    descending = term.startswith("ORDERBYDESC")
    field = term[len("ORDERBYDESC") :] if descending else term[len("ORDERBY") :]
    if not _FIELD.fullmatch(field):
        raise QueryError(f"ORDERBY needs a field name: {_shown(term)!r}")
    return Ordering(_known(field, fields, term), descending)


def _condition(term: str, fields: Collection[str]) -> Condition:
    found = _CONDITION.fullmatch(term)
    if found is None:
        raise QueryError(f"cannot read the condition {_shown(term)!r} (supported: =, !=, LIKE, STARTSWITH)")
    field, operator, value = found.groups()
    _known(field, fields, term)
    return Condition(field, Operator(operator), None if value in CALLER_VALUES else value)


def parse_query(text: str, fields: Collection[str]) -> EncodedQuery:
    """Parse ``sysparm_query``; ``fields`` are the names a condition may use.

    An empty query matches every record. Raises :class:`QueryError`.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    if not text:
        return EncodedQuery()
    terms = text.split("^")
    if terms[-1] == "EQ":
        terms.pop()
    if len(terms) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} terms")
    groups: list[list[Condition]] = []
    order: list[Ordering] = []
    for index, term in enumerate(terms):
        if term == "":
            raise QueryError("empty condition (two '^' in a row, or a '^' at an end)")
        if term.startswith(("NQ", "EQ")):
            raise QueryError(f"{term[:2]} is not supported (one query, no ^NQ or ^EQ inside it)")
        if term.startswith("ORDERBY"):
            order.append(_ordering(term, fields))
        elif term.startswith("OR"):
            if index == 0 or terms[index - 1].startswith("ORDERBY"):
                raise QueryError(f"^OR must follow a condition: {_shown(term)!r}")
            groups[-1].append(_condition(term[2:], fields))
        else:
            groups.append([_condition(term, fields)])
    return EncodedQuery(tuple(tuple(group) for group in groups), tuple(order))


def _holds(condition: Condition, record: Mapping[str, str], caller: str) -> bool:
    actual = record.get(condition.field, "").casefold()
    wanted = (caller if condition.value is None else condition.value).casefold()
    if condition.operator is Operator.EQUALS:
        return actual == wanted
    if condition.operator is Operator.NOT_EQUALS:
        return actual != wanted
    if condition.operator is Operator.LIKE:
        return wanted in actual
    return actual.startswith(wanted)


def matches(query: EncodedQuery, record: Mapping[str, str], caller: str) -> bool:
    """Whether ``record`` satisfies every OR-group of ``query``; ``caller`` is the user ``me`` means."""
    return all(any(_holds(c, record, caller) for c in group) for group in query.groups)


Row = TypeVar("Row", bound=Mapping[str, str])


def sort_records(query: EncodedQuery, records: Iterable[Row], default: Sequence[str] = ()) -> list[Row]:
    """``records`` in the query's order (ties broken by ``default`` ascending, then input order)."""
    ordered = list(records)
    keys = [*query.order, *(Ordering(field) for field in default)]
    for key in reversed(keys):  # stable sorts, least significant key first
        ordered.sort(key=_sort_key(key.field), reverse=key.descending)
    return ordered


def _sort_key(field: str) -> Callable[[Mapping[str, str]], str]:
    return lambda record: record.get(field, "").casefold()
