"""The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2, OIDC Core §3.1.2.1).

Validation runs in two stages. First the client and its redirect URI: until both are known to be
right, nothing may be sent to the redirect URI (RFC 6749 §4.1.2.1), so those errors are plain
:class:`~deputy.errors.OAuthError` s that the web layer shows to the user. Every later error is a
:class:`RedirectError`, sent back to the client's redirect URI with ``state`` and ``iss``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from deputy.errors import (
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.targets import requested_targets
from deputy.protocol.request import FormRequest
from deputy.realm import Agent, AgentStatus, Resource

# RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(verifier)), 32 bytes -> 43 characters.
S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_STATE = 2000
MAX_NONCE = 500  # the column's size


class RedirectError(Exception):
    """An error to send to the (verified) redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Agent
    redirect_uri: str
    state: str | None
    scopes: frozenset[str] | None  # None: no scope parameter
    resource: Resource | None
    code_challenge: str
    nonce: str | None
    prompt: frozenset[str]
    max_age: int | None
    query: str  # the request as a query string, carried through the sign-in and consent pages

    def fail(self, error: OAuthError) -> RedirectError:
        return RedirectError(error, self.redirect_uri, self.state)


def with_query(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` appended, keeping any query it already has (RFC 6749 §3.1.2)."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def redirect_location(error: RedirectError, issuer: str) -> str:
    """The error response (RFC 6749 §4.1.2.1) with RFC 9207's ``iss``."""
    params = {"error": error.error.error, "error_description": error.error.description}
    if error.state is not None:
        params["state"] = error.state
    params["iss"] = issuer
    return with_query(error.redirect_uri, params)


def _client(request: FormRequest, ctx: ServerContext) -> Agent:
    client_id = request.one("client_id")
    if client_id is None:
        raise InvalidRequest("authorize_client_missing", "no client_id")
    agent = ctx.realm.get_agent(client_id)
    if agent is None:
        raise InvalidRequest("authorize_client_unknown", f"client {client_id!r} unknown")
    if agent.status is not AgentStatus.ACTIVE:
        raise UnauthorizedClient("authorize_client_not_active", f"client {client_id} is {agent.status.value}")
    return agent


def _redirect_uri(request: FormRequest, agent: Agent) -> str:
    uri = request.one("redirect_uri")
    if uri is None:
        # OIDC Core §3.1.2.1 makes it REQUIRED, so the token request can always be checked against it.
        raise InvalidRequest("redirect_uri_missing", f"client {agent.client_id}: no redirect_uri")
    if uri not in agent.redirect_uris:  # exact string comparison: no prefixes, no patterns
        raise InvalidRequest("redirect_uri_mismatch", f"client {agent.client_id}: {uri!r} is not registered")
    return uri


def parse_authorization_request(pairs: list[tuple[str, str]], ctx: ServerContext) -> AuthorizationRequest:
    request = FormRequest.from_pairs(pairs)
    # Stage 1: shown to the user. A duplicated client_id or redirect_uri is refused here too.
    agent = _client(request, ctx)
    redirect_uri = _redirect_uri(request, agent)
    try:
        state = request.one("state")
    except InvalidRequest as exc:
        raise RedirectError(exc, redirect_uri, None) from None
    if state is not None and len(state) > MAX_STATE:
        raise RedirectError(InvalidRequest("invalid_parameter", "state too long"), redirect_uri, None)
    try:
        return _stage_two(request, ctx, agent, redirect_uri, state, urlencode(pairs))
    except OAuthError as exc:
        raise RedirectError(exc, redirect_uri, state) from None


def _stage_two(
    request: FormRequest, ctx: ServerContext, agent: Agent, redirect_uri: str, state: str | None, query: str
) -> AuthorizationRequest:
    response_type = request.one("response_type")
    if response_type is None:
        raise InvalidRequest("missing_parameter", "response_type is required")
    if response_type != "code":
        raise UnsupportedResponseType("unsupported_response_type", f"response_type {response_type!r}")
    if request.one("response_mode") not in (None, "query"):
        raise InvalidRequest("invalid_parameter", f"response_mode {request.one('response_mode')!r}")
    if request.one("request") is not None or request.one("request_uri") is not None:
        raise InvalidRequest("request_object_unsupported", "request or request_uri sent")

    # PKCE (RFC 7636), S256 only: "plain" exposes the verifier, and a missing method means plain.
    challenge = request.one("code_challenge")
    method = request.one("code_challenge_method")
    if challenge is None:
        raise InvalidRequest("pkce_missing", "no code_challenge")
    if method != "S256":
        raise InvalidRequest("pkce_method_unsupported", f"code_challenge_method {method!r}")
    if not S256_CHALLENGE.match(challenge):
        raise InvalidRequest("pkce_invalid", "code_challenge is not 43 base64url characters")

    try:
        scopes = request.scopes()
    except InvalidRequest as exc:
        raise InvalidScope("scope_invalid", exc.detail) from None

    resource = _resource(request, ctx, agent)

    nonce = request.one("nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise InvalidRequest("invalid_parameter", "nonce too long")
    prompt = frozenset((request.one("prompt") or "").split())
    if not prompt <= PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise InvalidRequest("invalid_parameter", f"prompt {sorted(prompt)}")
    raw_max_age = request.one("max_age")
    max_age = None
    if raw_max_age is not None:
        if not raw_max_age.isdigit() or len(raw_max_age) > 9:
            raise InvalidRequest("invalid_parameter", f"max_age {raw_max_age!r}")
        max_age = int(raw_max_age)
    return AuthorizationRequest(
        client=agent, redirect_uri=redirect_uri, state=state, scopes=scopes, resource=resource,
        code_challenge=challenge, nonce=nonce, prompt=prompt, max_age=max_age, query=query,
    )


def _resource(request: FormRequest, ctx: ServerContext, agent: Agent) -> Resource | None:
    """RFC 8707: the resource must be registered, and the client allowed there by its grant."""
    targets = requested_targets(request)
    if request.many("audience"):
        raise InvalidRequest("invalid_parameter", "audience is for token exchange; use resource")
    if not targets:
        return None
    if len(targets) > 1:
        raise InvalidTarget("target_multiple", f"resources {list(targets)}")
    resource = ctx.realm.get_resource(targets[0])
    if resource is None:
        raise InvalidTarget("target_unknown", f"no resource {targets[0]!r}")
    if agent.grant_for(resource.identifier) is None:
        raise InvalidTarget("target_not_allowed", f"client {agent.client_id} has no grant for {resource.identifier}")
    return resource
