"""RFC 9728 protected resource metadata."""

from __future__ import annotations

from deputy.resource import (
    DPoPSettings,
    TokenVerifier,
    metadata_path_for,
    metadata_url_for,
    protected_resource_metadata,
)


def test_document() -> None:
    verifier = TokenVerifier("https://as.example", "https://api.example")
    assert protected_resource_metadata(verifier, scopes_supported=["incidents:read"], resource_name="Desk") == {
        "resource": "https://api.example",
        "authorization_servers": ["https://as.example"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["incidents:read"],
        "dpop_signing_alg_values_supported": ["ES256", "ES384", "PS256", "RS256", "Ed25519"],
        "dpop_bound_access_tokens_required": False,
        "resource_name": "Desk",
    }


def test_without_dpop_and_with_response_signing() -> None:
    verifier = TokenVerifier("https://as.example", "https://api.example", dpop=DPoPSettings(enabled=False))
    document = protected_resource_metadata(verifier, resource_signing_algs=["ES256"])
    assert "dpop_signing_alg_values_supported" not in document
    assert document["resource_signing_alg_values_supported"] == ["ES256"]


def test_well_known_location() -> None:
    assert metadata_url_for("https://api.example") == "https://api.example/.well-known/oauth-protected-resource"
    assert metadata_url_for("https://api.example/") == "https://api.example/.well-known/oauth-protected-resource"
    assert metadata_url_for("https://mcp.example/mcp") == "https://mcp.example/.well-known/oauth-protected-resource/mcp"
    assert metadata_path_for("https://mcp.example/mcp") == "/.well-known/oauth-protected-resource/mcp"
    assert metadata_url_for("triage-agent") is None
