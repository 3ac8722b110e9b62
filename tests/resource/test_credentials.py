"""Reading the Authorization and DPoP headers (RFC 6750 §2.1, RFC 9449 §7)."""

from __future__ import annotations

import pytest

from deputy.resource import (
    AuthenticationRequired,
    InvalidDPoPProof,
    InvalidRequest,
    read_credentials,
)


def test_bearer() -> None:
    creds = read_credentials(["Bearer abc.def.ghi"], method="GET", url="https://api.example/x")
    assert (creds.token, creds.scheme, creds.proof) == ("abc.def.ghi", "Bearer", None)
    assert read_credentials(["bearer abc"]).scheme == "Bearer"  # the scheme is case-insensitive
    assert "abc" not in repr(read_credentials(["Bearer abc"]))  # tokens never in repr


def test_dpop() -> None:
    creds = read_credentials(["DPoP abc"], ["p.r.f"], method="POST", url="https://api.example/x")
    assert (creds.token, creds.scheme, creds.proof, creds.method) == ("abc", "DPoP", "p.r.f", "POST")


def test_no_credentials() -> None:
    with pytest.raises(AuthenticationRequired):
        read_credentials([])
    with pytest.raises(AuthenticationRequired):
        read_credentials(["Basic dXNlcjpwYXNz"])


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", 'Bearer "a"', "Bearer " + "a" * 20000])
def test_malformed(value: str) -> None:
    with pytest.raises(InvalidRequest):
        read_credentials([value])


def test_repeated_headers() -> None:
    with pytest.raises(InvalidRequest):
        read_credentials(["Bearer a", "Bearer b"])
    with pytest.raises(InvalidDPoPProof):
        read_credentials(["DPoP a"], ["p", "q"])
    with pytest.raises(InvalidDPoPProof):
        read_credentials(["DPoP a"], [])
