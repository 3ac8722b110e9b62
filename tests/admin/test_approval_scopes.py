"""Marking scopes as needing the user's approval: validated, stored, exported, loaded."""

from __future__ import annotations

import pytest

from deputy.admin.realm_file import export_realm, load_realm
from deputy.admin.schema import parse_resource, resource_to_dict
from deputy.errors import InvalidInput
from deputy.runtime import Deputy
from tests.conftest import INCIDENTS


def test_approval_scopes_must_be_scopes_of_the_resource() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_resource({"identifier": "https://api.example", "scopes": ["a"], "approval_scopes": ["b"]})
    assert "approval_scopes" in caught.value.description and "'b'" in caught.value.description
    with pytest.raises(InvalidInput):
        parse_resource({"identifier": "https://api.example", "scopes": ["a"], "approval_scopes": "a b\x00"})


def test_round_trip_and_no_new_field_when_unused() -> None:
    marked = parse_resource({"identifier": "https://api.example", "scopes": ["a", "b"], "approval_scopes": ["b"]})
    assert marked.approval_scopes == ("b",)
    assert parse_resource(resource_to_dict(marked)) == marked
    plain = parse_resource({"identifier": "https://api.example", "scopes": ["a"]})
    assert "approval_scopes" not in resource_to_dict(plain)


def test_realm_file_marks_and_exports_approval_scopes(deputy: Deputy) -> None:
    load_realm(deputy.admin("test"), {"resources": [
        {"identifier": INCIDENTS, "scopes": ["incidents:read", "incidents:write", "hr:read"],
         "approval_scopes": ["incidents:write"]},
    ]})
    resource = deputy.store.realm.get_resource(INCIDENTS)
    assert resource is not None and resource.approval_scopes == ("incidents:write",)
    exported = {r["identifier"]: r for r in export_realm(deputy.admin("test"))["resources"]}
    assert exported[INCIDENTS]["approval_scopes"] == ["incidents:write"]
