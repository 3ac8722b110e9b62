"""Protected resource metadata (RFC 9728): how a client (an MCP client, say) learns which
authorization server issues tokens for this resource, and with which scopes.

The document is served at ``/.well-known/oauth-protected-resource`` inserted between the host and
the path of the resource identifier (§3.1), and the ``WWW-Authenticate`` challenges point at it
with ``resource_metadata`` (§5.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from deputy.resource.verifier import TokenVerifier

__all__ = ["WELL_KNOWN", "metadata_path_for", "metadata_url_for", "protected_resource_metadata"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_path_for(resource: str) -> str:
    """The path of the metadata document of ``resource`` on its own host (§3.1)."""
    path = urlsplit(resource).path.rstrip("/")
    return WELL_KNOWN + path


def metadata_url_for(resource: str) -> str | None:
    """The metadata URL of ``resource``, or None when the identifier is not an http(s) URL
    (then give the URL explicitly)."""
    parts = urlsplit(resource)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, metadata_path_for(resource), "", ""))


def protected_resource_metadata(
    verifier: TokenVerifier,
    *,
    scopes_supported: Sequence[str] = (),
    resource_name: str | None = None,
    resource_documentation: str | None = None,
    resource_signing_algs: Sequence[str] = (),
) -> dict[str, Any]:
    """The RFC 9728 §2 document for the resource ``verifier`` protects.

    ``resource_signing_algs`` is what the resource signs its *responses* with (§2); it is
    published only when given, since a resource that signs nothing must not claim to.
    """
    document: dict[str, Any] = {
        "resource": verifier.audience,
        "authorization_servers": [verifier.issuer],
        "bearer_methods_supported": ["header"],  # never query or body (RFC 6750 §2.2-2.3)
    }
    if scopes_supported:
        document["scopes_supported"] = list(scopes_supported)
    if resource_signing_algs:
        document["resource_signing_alg_values_supported"] = list(resource_signing_algs)
    if verifier.dpop.enabled:
        document["dpop_signing_alg_values_supported"] = list(verifier.dpop.algorithms)
        document["dpop_bound_access_tokens_required"] = verifier.dpop.required
    if resource_name:
        document["resource_name"] = resource_name
    if resource_documentation:
        document["resource_documentation"] = resource_documentation
    return document
