"""parse_trusted_issuer: what a trusted issuer's settings may say, with errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from deputy.admin.issuer_schema import parse_trusted_issuer, trusted_issuer_to_dict
from deputy.errors import InvalidInput
from deputy.realm import TrustedIssuer

ENTRA = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"


def entra(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "issuer": ENTRA,
        "discovery_url": ENTRA + "/.well-known/openid-configuration",
        "user_claim": "oid",
        "provision": True,
        "groups_claim": "groups",
        "group_map": {"0b1c2d3e-guid": "it"},
        "agent_audiences": {"incident-agent": ["api://incident-agent", "6e1f-app-guid"]},
        "algorithms": ["RS256"],
        "token_types": ["JWT", ""],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_complete_entra_configuration() -> None:
    issuer = parse_trusted_issuer(entra())
    assert issuer == TrustedIssuer(
        issuer=ENTRA, discovery_url=ENTRA + "/.well-known/openid-configuration", user_claim="oid", provision=True,
        groups_claim="groups", group_map=(("0b1c2d3e-guid", "it"),),
        agent_audiences=(("incident-agent", ("api://incident-agent", "6e1f-app-guid")),),
        algorithms=("RS256",), token_types=("JWT", ""),
    )


def test_defaults() -> None:
    issuer = parse_trusted_issuer({"issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks"})
    assert issuer == TrustedIssuer("https://idp.example", jwks_uri="https://idp.example/jwks")
    assert issuer.user_claim == "sub" and not issuer.provision
    assert issuer.algorithms == ("RS256", "ES256") and issuer.token_types == ("at+jwt", "JWT", "")


def test_round_trip_through_the_dict_form() -> None:
    issuer = parse_trusted_issuer(entra())
    assert parse_trusted_issuer(trusted_issuer_to_dict(issuer)) == issuer
    jwks = parse_trusted_issuer(entra(discovery_url=None, jwks_uri="https://login.example/keys"))
    assert "discovery_url" not in trusted_issuer_to_dict(jwks)
    assert parse_trusted_issuer(trusted_issuer_to_dict(jwks)) == jwks


def test_v1_issuer_with_trailing_slash_is_kept_exactly() -> None:
    sts = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
    assert parse_trusted_issuer(entra(issuer=sts)).issuer == sts


def test_loopback_http_is_allowed() -> None:
    parsed = parse_trusted_issuer({"issuer": "http://127.0.0.1:9000", "jwks_uri": "http://127.0.0.1:9000/jwks"})
    assert parsed.jwks_uri == "http://127.0.0.1:9000/jwks"


def test_a_single_audience_string() -> None:
    parsed = parse_trusted_issuer(entra(agent_audiences={"incident-agent": "api://incident-agent"}))
    assert parsed.agent_audiences == (("incident-agent", ("api://incident-agent",)),)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": None}, "'issuer' must be a URL"),
        ({"issuer": "idp.example"}, "absolute URL"),
        ({"issuer": "http://idp.example"}, "https"),
        ({"issuer": "https://idp.example?tenant=1"}, "query"),
        ({"issuer": "https://idp.example#x"}, "fragment"),
        ({"jwks_uri": "https://idp.example/keys"}, "exactly one of 'discovery_url' and 'jwks_uri'"),
        ({"discovery_url": None}, "exactly one of 'discovery_url' and 'jwks_uri'"),
        ({"discovery_url": "http://idp.example/.well-known/openid-configuration"}, "'discovery_url' must use https"),
        ({"discovery_url": None, "jwks_uri": 42}, "'jwks_uri' must be a URL"),
        ({"user_claim": ""}, "'user_claim' must be a claim name"),
        ({"user_claim": "aud"}, "does not name a user"),
        ({"user_claim": "two words"}, "'user_claim'"),
        ({"provision": "yes"}, "'provision' must be true or false"),
        ({"groups_claim": None}, "'group_map' needs 'groups_claim'"),
        ({"group_map": {"x": "not a name"}}, "group_map"),
        ({"group_map": ["x"]}, "'group_map' must be a table"),
        ({"agent_audiences": {"incident-agent": []}}, "at least one audience"),
        ({"agent_audiences": {"incident-agent": [""]}}, "'audiences' must be a list of strings"),
        ({"agent_audiences": {"bad agent": ["x"]}}, "agent_audiences"),
        ({"agent_audiences": ["incident-agent"]}, "'agent_audiences' must be a table"),
        ({"algorithms": ["none"]}, "never none or HMAC"),
        ({"algorithms": ["HS256"]}, "never none or HMAC"),
        ({"algorithms": ["RS256", "HS512"]}, "['HS512'] not allowed"),
        ({"algorithms": []}, "'algorithms'"),
        ({"token_types": ["dpop+jwt"]}, "'token_types'"),
        ({"token_types": ["application/oauth-id-jag+jwt"]}, "'token_types'"),
        ({"token_types": []}, "'token_types'"),
        ({"token_types": [1]}, "'token_types' must be a list of strings"),
        ({"audiences": ["x"]}, "unknown field(s) ['audiences']"),
    ],
)
def test_invalid(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_trusted_issuer(entra(**changes), "issuers[3]")
    assert exc.value.description.startswith("issuers[3]"), exc.value.description
    assert message in exc.value.description, exc.value.description
    assert exc.value.description.isascii()
