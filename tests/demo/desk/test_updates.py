"""PATCH bodies: only updatable fields, strings, known states and priorities."""

from __future__ import annotations

from typing import Any

import pytest

from deputy.demo.desk.errors import BadRequest
from deputy.demo.desk.updates import MAX_TEXT, Update, read_update


def test_a_valid_update() -> None:
    update = read_update({"state": "2", "work_notes": "Replaced the cable.", "priority": "1"})
    assert update == Update({"state": "2", "priority": "1"}, "Replaced the cable.")
    assert update.fields() == ("state", "priority", "work_notes")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "must be a JSON object"),
        ("state=2", "must be a JSON object"),
        ({}, "Nothing to update"),
        ({"category": "network"}, "Field 'category' cannot be updated"),
        ({"assignment_group": "hr"}, "Field 'assignment_group' cannot be updated"),
        ({"sys_id": "0" * 32}, "Field 'sys_id' cannot be updated"),
        ({"state": 2}, "Field 'state' must be a string"),
        ({"state": "9"}, "Field 'state' must be one of"),
        ({"priority": "0"}, "Field 'priority' must be one of"),
        ({"short_description": "  "}, "must not be empty"),
        ({"work_notes": ""}, "must not be empty"),
        ({"work_notes": "x" * (MAX_TEXT + 1)}, "longer than"),
        ({"short_description": "x" * 161}, "longer than 160"),
    ],
)
def test_refused_bodies_name_the_problem(body: Any, problem: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read_update(body)
    assert problem in caught.value.detail
    assert caught.value.status_code == 400
