"""FormRequest parsing (RFC 6749 §3.1, §3.2, §3.3) and its use at the token endpoint."""

from __future__ import annotations

import pytest

from deputy.errors import InvalidRequest, UnsupportedGrantType
from deputy.protocol.request import MAX_BODY_BYTES, FormRequest
from deputy.runtime import Deputy
from tests.conftest import AGENT, TOKEN_EXCHANGE
from tests.helpers import form
from tests.protocol.support import assert_refused, exchange_params, user_token

FORM = "application/x-www-form-urlencoded"


def test_from_body_parses_repeated_and_encoded_values() -> None:
    req = FormRequest.from_body(b"a=1&b=x+y%26z&r=one&r=two", FORM)
    assert req.one("a") == "1"
    assert req.one("b") == "x y&z"
    assert req.many("r") == ("one", "two")


def test_content_type_with_charset_is_accepted() -> None:
    req = FormRequest.from_body(b"a=1", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
    assert req.one("a") == "1"


@pytest.mark.parametrize("content_type", [None, "", "application/json", "multipart/form-data", "text/plain"])
def test_other_content_types_are_refused(content_type: str | None) -> None:
    with pytest.raises(InvalidRequest) as exc:
        FormRequest.from_body(b"a=1", content_type)
    assert exc.value.error == "invalid_request"
    assert exc.value.reason == "unsupported_content_type"


def test_oversized_body_is_refused() -> None:
    with pytest.raises(InvalidRequest) as exc:
        FormRequest.from_body(b"a=" + b"x" * MAX_BODY_BYTES, FORM)
    assert exc.value.reason == "request_too_large"


def test_body_at_the_limit_is_accepted() -> None:
    body = b"a=" + b"x" * (MAX_BODY_BYTES - 2)
    assert len(FormRequest.from_body(body, FORM).one("a") or "") == MAX_BODY_BYTES - 2


def test_undecodable_body_is_refused() -> None:
    with pytest.raises(InvalidRequest) as exc:
        FormRequest.from_body(b"a=\xff\xfe", FORM)
    assert exc.value.reason == "invalid_parameter"


def test_duplicate_single_valued_parameter_is_refused() -> None:
    req = FormRequest.from_pairs([("scope", "a"), ("scope", "b")])
    with pytest.raises(InvalidRequest) as exc:
        req.one("scope")
    assert exc.value.error == "invalid_request"
    assert exc.value.reason == "duplicate_parameter"


def test_duplicate_parameter_is_refused_even_when_values_are_equal() -> None:
    req = FormRequest.from_pairs([("grant_type", "client_credentials"), ("grant_type", "client_credentials")])
    with pytest.raises(InvalidRequest) as exc:
        req.required("grant_type")
    assert exc.value.reason == "duplicate_parameter"


def test_empty_value_is_treated_as_omitted() -> None:
    req = FormRequest.from_pairs([("scope", ""), ("resource", ""), ("resource", "https://r.example")])
    assert req.one("scope") is None
    assert req.scopes() is None
    assert req.many("resource") == ("https://r.example",)
    with pytest.raises(InvalidRequest) as exc:
        req.required("scope")
    assert exc.value.reason == "missing_parameter"


def test_missing_required_parameter() -> None:
    with pytest.raises(InvalidRequest) as exc:
        FormRequest.from_pairs([]).required("grant_type")
    assert exc.value.reason == "missing_parameter"
    assert "grant_type" in exc.value.detail


def test_scopes_are_split_on_single_spaces() -> None:
    req = FormRequest.from_pairs([("scope", "incidents:read incidents:write incidents:read")])
    assert req.scopes() == frozenset({"incidents:read", "incidents:write"})


@pytest.mark.parametrize(
    "raw",
    ["a  b", " a", "a ", 'a "b"', "a\\b", "caf\u00e9", "a\tb", "a\nb", "a\x7fb"],
)
def test_malformed_scope_is_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        FormRequest.from_pairs([("scope", raw)]).scopes()
    assert exc.value.reason == "invalid_parameter"


def test_scope_with_every_allowed_character_is_accepted() -> None:
    allowed = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
    assert FormRequest.from_pairs([("scope", allowed)]).scopes() == frozenset({allowed})


# -- at the token endpoint ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["grant_type", "subject_token", "subject_token_type", "scope", "requested_token_type"])
def test_duplicate_parameter_at_token_endpoint(deputy: Deputy, name: str) -> None:
    params = exchange_params(user_token(deputy), scope="incidents:read")
    params["requested_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
    value = params[name]
    assert isinstance(value, str)
    params[name] = [value, value]
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form(params, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "duplicate_parameter")


def test_missing_grant_type(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({"scope": "x"}, AGENT))
    event = assert_refused(deputy, exc.value, "invalid_request", "missing_parameter")
    assert event.client_id == "incident-agent"  # the claimed client is recorded even so


def test_unsupported_grant_type(deputy: Deputy) -> None:
    with pytest.raises(UnsupportedGrantType) as exc:
        deputy.token.handle(form({"grant_type": "password", "username": "jane", "password": "x"}, AGENT))
    event = assert_refused(deputy, exc.value, "unsupported_grant_type", "unsupported_grant_type")
    assert event.grant_type == "password"
    assert event.client_id == "incident-agent"


@pytest.mark.parametrize("grant_type", ["urn:ietf:params:oauth:grant-type:token_exchange", TOKEN_EXCHANGE.upper()])
def test_near_miss_grant_types_are_unsupported(deputy: Deputy, grant_type: str) -> None:
    params = exchange_params(user_token(deputy))
    params["grant_type"] = grant_type
    with pytest.raises(UnsupportedGrantType) as exc:
        deputy.token.handle(form(params, AGENT))
    assert exc.value.error == "unsupported_grant_type"
