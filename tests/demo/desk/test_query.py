"""Encoded queries, without HTTP: parsing, evaluation, ordering, and malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deputy.demo.desk.query import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    Condition,
    EncodedQuery,
    Operator,
    Ordering,
    QueryError,
    matches,
    parse_query,
    sort_records,
)

FIELDS = ("number", "short_description", "state", "priority", "assigned_to", "category")


def parse(text: str) -> EncodedQuery:
    return parse_query(text, FIELDS)


def record(**values: str) -> dict[str, str]:
    base = {"number": "INC0010001", "short_description": "VPN drops", "state": "2", "priority": "3",
            "assigned_to": "jane", "category": "network"}
    return {**base, **values}


# -- parsing ----------------------------------------------------------------------------------


def test_each_operator_in_servicenow_spelling() -> None:
    assert parse("state=2").groups == ((Condition("state", Operator.EQUALS, "2"),),)
    assert parse("state!=7").groups == ((Condition("state", Operator.NOT_EQUALS, "7"),),)
    assert parse("short_descriptionLIKEvpn").groups == ((Condition("short_description", Operator.LIKE, "vpn"),),)
    assert parse("numberSTARTSWITHINC001").groups == (
        (Condition("number", Operator.STARTSWITH, "INC001"),),
    )


def test_the_value_may_hold_operator_characters() -> None:
    assert parse("short_descriptionLIKEa=b!=cLIKE").groups == (
        (Condition("short_description", Operator.LIKE, "a=b!=cLIKE"),),
    )
    assert parse("short_description=").groups == ((Condition("short_description", Operator.EQUALS, ""),),)


def test_or_binds_to_the_preceding_condition_and_tighter_than_and() -> None:
    query = parse("state=1^priority=1^ORpriority=2^category=network")
    assert query.groups == (
        (Condition("state", Operator.EQUALS, "1"),),
        (Condition("priority", Operator.EQUALS, "1"), Condition("priority", Operator.EQUALS, "2")),
        (Condition("category", Operator.EQUALS, "network"),),
    )


def test_me_and_gs_get_user_id_mean_the_caller() -> None:
    caller = Condition("assigned_to", Operator.EQUALS, None)
    assert parse("assigned_to=me").groups == ((caller,),)
    assert parse("assigned_to=javascript:gs.getUserID()").groups == ((caller,),)
    # only the whole value: "meeting" is just a word
    assert parse("short_descriptionLIKEmeeting").groups[0][0].value == "meeting"


def test_order_by_anywhere_first_is_primary() -> None:
    query = parse("ORDERBYDESCpriority^state=2^ORDERBYnumber")
    assert query.order == (Ordering("priority", True), Ordering("number", False))
    assert query.groups == ((Condition("state", Operator.EQUALS, "2"),),)


def test_empty_query_and_trailing_eq() -> None:
    assert parse("") == EncodedQuery()
    assert parse("state=2^EQ") == parse("state=2")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("bogus=1", "unknown field 'bogus'"),
        ("state=1^^priority=1", "empty condition"),
        ("^state=1", "empty condition"),
        ("state=1^", "empty condition"),
        ("ORstate=1", "^OR must follow a condition"),
        ("ORDERBYnumber^ORstate=1", "^OR must follow a condition"),
        ("state=1^NQpriority=1", "NQ is not supported"),
        ("state=1^EQ^priority=1", "EQ is not supported"),
        ("state>1", "cannot read the condition"),
        ("stateIN1,2", "cannot read the condition"),
        ("assigned_to.name=jane", "cannot read the condition"),
        ("STATE=1", "cannot read the condition"),
        ("state", "cannot read the condition"),
        ("ORDERBY", "ORDERBY needs a field name"),
        ("ORDERBYDESCbogus", "unknown field 'bogus'"),
        ("ORDERBYnumber,state", "ORDERBY needs a field name"),
        ("x" * (MAX_QUERY_LENGTH + 1), "longer than"),
        ("^".join(["state=1"] * (MAX_TERMS + 1)), "more than"),
    ],
)
def test_malformed_queries_are_refused_with_the_problem_named(text: str, problem: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert problem in str(caught.value)


def test_a_long_term_is_cut_in_the_message() -> None:
    with pytest.raises(QueryError) as caught:
        parse("bogus=" + "x" * 500)
    assert len(str(caught.value)) < 120


# -- evaluation -------------------------------------------------------------------------------


def test_operators_ignore_case() -> None:
    assert matches(parse("short_descriptionLIKEvpn"), record(), "jane")
    assert matches(parse("numberSTARTSWITHinc001"), record(), "jane")
    assert matches(parse("category=NETWORK"), record(), "jane")
    assert not matches(parse("category!=Network"), record(), "jane")
    assert not matches(parse("short_descriptionSTARTSWITHdrops"), record(), "jane")


def test_me_is_the_caller() -> None:
    assert matches(parse("assigned_to=me"), record(assigned_to="jane"), "jane")
    assert not matches(parse("assigned_to=me"), record(assigned_to="jane"), "bob")
    assert matches(parse("assigned_to!=javascript:gs.getUserID()"), record(assigned_to="jane"), "bob")


def test_and_of_ors() -> None:
    query = parse("assigned_to=me^priority=1^ORpriority=2")
    assert matches(query, record(priority="2"), "jane")
    assert not matches(query, record(priority="3"), "jane")
    assert not matches(query, record(priority="1"), "bob")


def test_a_missing_field_reads_as_empty() -> None:
    assert matches(parse("category="), {"number": "INC1"}, "jane")


def test_sort_records_by_the_query_then_the_default() -> None:
    rows = [record(number="INC3", priority="2"), record(number="INC1", priority="2"), record(number="INC2", priority="1")]
    ordered = sort_records(parse("ORDERBYDESCpriority"), rows, ("number",))
    assert [r["number"] for r in ordered] == ["INC1", "INC3", "INC2"]
    ordered = sort_records(parse("ORDERBYpriority^ORDERBYDESCnumber"), rows)
    assert [r["number"] for r in ordered] == ["INC2", "INC3", "INC1"]


# -- properties -------------------------------------------------------------------------------

values = st.text(alphabet=st.characters(exclude_characters="^", exclude_categories=["Cs"]), max_size=12)
conditions = st.builds(
    Condition,
    st.sampled_from(FIELDS),
    st.sampled_from(list(Operator)),
    st.one_of(st.none(), values.filter(lambda v: v not in ("me", "javascript:gs.getUserID()"))),
)
records = st.fixed_dictionaries({name: st.sampled_from(["", "jane", "bob", "2", "VPN drops", "INC0010001"]) for name in FIELDS})


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    try:
        parse(text)
    except QueryError:
        pass


@given(st.lists(st.lists(conditions, min_size=1, max_size=3), max_size=4))
def test_rendered_queries_parse_back(groups: list[list[Condition]]) -> None:
    text = "^".join("^OR".join(c.text() for c in group) for group in groups)
    assert parse(text).groups == tuple(tuple(group) for group in groups)


@given(conditions, conditions, records, st.sampled_from(["jane", "bob"]))
def test_and_is_and_or_is_or(a: Condition, b: Condition, row: dict[str, str], caller: str) -> None:
    one = matches(EncodedQuery(((a,),)), row, caller)
    two = matches(EncodedQuery(((b,),)), row, caller)
    assert matches(parse(f"{a.text()}^{b.text()}"), row, caller) == (one and two)
    assert matches(parse(f"{a.text()}^OR{b.text()}"), row, caller) == (one or two)


@given(conditions, records, st.sampled_from(["jane", "bob"]))
def test_not_equals_is_the_negation_of_equals(c: Condition, row: dict[str, str], caller: str) -> None:
    equals = Condition(c.field, Operator.EQUALS, c.value)
    differs = Condition(c.field, Operator.NOT_EQUALS, c.value)
    assert matches(EncodedQuery(((equals,),)), row, caller) != matches(EncodedQuery(((differs,),)), row, caller)
