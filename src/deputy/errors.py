"""One error hierarchy for Deputy, rendered in one place (``deputy.http.errors``).

Each error has an OAuth ``error`` code and an HTTP status fixed by its class, a machine-readable
``reason`` whose public description is fixed ASCII text from :data:`PUBLIC_TEXT`, and a private
``detail`` that goes to logs and the audit trail only, never to the client.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "PUBLIC_TEXT",
    "AccessDenied",
    "ApprovalDenied",
    "AuthorizationPending",
    "ExpiredToken",
    "InvalidBindingMessage",
    "SlowDown",
    "UnknownUserId",
    "AdminAuthRequired",
    "AdminError",
    "Conflict",
    "DeputyError",
    "InvalidClient",
    "InvalidGrant",
    "InvalidInput",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "NotFound",
    "OAuthError",
    "RateLimited",
    "ServerError",
    "TemporarilyUnavailable",
    "UnsupportedResponseType",
    "LoginRequired",
    "ConsentRequired",
    "InvalidToken",
    "InsufficientScope",
    "InvalidRedirectUri",
    "InvalidClientMetadata",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
]

# reason -> the fixed public text shown in error_description
PUBLIC_TEXT: dict[str, str] = {
    # request shape
    "duplicate_parameter": "A parameter was sent more than once.",
    "missing_parameter": "A required parameter is missing.",
    "invalid_parameter": "A parameter has an invalid value.",
    "unsupported_content_type": "The request body must be application/x-www-form-urlencoded.",
    "unsupported_grant_type": "The grant type is not supported.",
    "unsupported_token_type": "The token type is not supported.",
    "request_too_large": "The request is too large.",
    # client authentication
    "client_auth_missing": "Client authentication is required.",
    "client_auth_multiple": "Only one client authentication method may be used.",
    "client_unknown": "Client authentication failed.",
    "client_secret_invalid": "Client authentication failed.",
    "client_secret_missing": "Client authentication failed.",
    "client_assertion_invalid": "Client authentication failed.",
    "client_assertion_replayed": "Client authentication failed.",
    "client_auth_method_not_allowed": "Client authentication failed.",
    "client_not_active": "The client is not active.",
    "grant_not_allowed": "The client may not use this grant type.",
    # subject and actor tokens
    "subject_token_invalid": "The subject token is invalid.",
    "subject_token_type_unsupported": "The subject token type is not supported.",
    "subject_token_not_for_client": "The subject token was not issued to this client.",
    "subject_token_revoked": "The subject token is no longer active.",
    "subject_not_user": "The subject token does not identify a user.",
    "subject_user_unknown": "The subject token does not identify a known user.",
    "actor_token_invalid": "The actor token is invalid.",
    "actor_token_type_missing": "actor_token_type is required with actor_token.",
    "actor_token_type_unexpected": "actor_token_type must not be sent without actor_token.",
    "actor_not_client": "The actor token does not identify the authenticated client.",
    "chain_actor_not_active": "An agent in the delegation chain is not active.",
    "chain_too_deep": "The delegation chain is too deep.",
    "may_act_mismatch": "The subject token does not allow this actor.",
    "subject_not_delegated": "The agent may not act for this user.",
    "impersonation_not_allowed": "The agent may not impersonate users.",
    "requested_token_type_unsupported": "The requested token type is not supported.",
    # subject tokens from trusted external issuers (docs/trusted-issuers.md)
    "issuer_unavailable": "The issuer of the subject token could not be reached.",
    "subject_token_delegated": "A delegated token from an external issuer cannot be exchanged.",
    # the jwt-bearer grant (RFC 7523): Entra-style on-behalf-of and ID-JAG redemption (docs/dialects.md)
    "requested_token_use_unsupported": "The requested_token_use is not supported.",
    "assertion_invalid": "The assertion is invalid.",
    "assertion_wrong_audience": "The assertion is not for this authorization server.",
    "assertion_not_for_client": "The assertion was not issued to this client.",
    "assertion_own": "This server does not accept assertions it issued itself.",
    "assertion_bound": "The assertion is bound to a key; proof of possession is not supported.",
    # target and scope
    "target_missing": "An audience or resource is required.",
    "target_multiple": "Only one audience or resource may be requested.",
    "target_invalid": "The resource must be an absolute URI without a fragment.",
    "target_unknown": "The requested audience or resource is not known.",
    "target_not_allowed": "The client may not obtain tokens for this audience.",
    "scope_invalid": "The scope parameter is malformed.",
    "scope_empty": "None of the requested scopes can be granted.",
    "subject_token_without_scope": "The subject token carries no scope to delegate.",
    "approval_required": "The requested scope needs the user's approval: use backchannel authentication.",
    # sign-in: the authorization request (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2)
    "authorize_client_missing": "The request does not name an application (client_id).",
    "authorize_client_unknown": "The application is not registered with this server.",
    "authorize_client_not_active": "The application is not active.",
    "redirect_uri_missing": "The request has no redirect_uri.",
    "redirect_uri_mismatch": "The redirect_uri is not registered for this application.",
    "unsupported_response_type": "Only the response type 'code' is supported.",
    "pkce_missing": "PKCE is required: send code_challenge with code_challenge_method S256.",
    "pkce_method_unsupported": "Only the S256 code challenge method is supported.",
    "pkce_invalid": "The code_challenge is malformed.",
    "request_object_unsupported": "Request objects are not supported.",
    "login_required": "The user is not signed in.",
    "consent_required": "The user has not approved this request.",
    "user_denied": "The user denied the request.",
    # sign-in: the token request (authorization_code and refresh_token grants)
    "code_invalid": "The authorization code is invalid, expired or already used.",
    "code_replayed": "The authorization code is invalid, expired or already used.",
    "code_not_for_client": "The authorization code is invalid, expired or already used.",
    "redirect_uri_differs": "The redirect_uri differs from the one in the authorization request.",
    "code_verifier_invalid": "The code_verifier does not match the code_challenge.",
    "refresh_token_invalid": "The refresh token is invalid, expired or revoked.",
    "refresh_token_reused": "The refresh token is invalid, expired or revoked.",
    "grant_withdrawn": "The user's grant for this client is no longer valid.",
    "scope_not_granted": "The requested scope exceeds what the user granted.",
    "resource_not_granted": "The requested resource was not part of the user's grant.",
    "public_client_grant": "A public client may use only the authorization_code and refresh_token grants.",
    # userinfo (RFC 6750 §3.1)
    "access_token_invalid": "The access token is invalid.",
    "openid_scope_missing": "The access token does not carry the openid scope.",
    # dynamic client registration (RFC 7591 §3.2.2)
    "redirect_uri_invalid": "A redirect URI is invalid.",
    "client_metadata_invalid": "The client metadata is invalid.",
    # human approval: OpenID CIBA, the backchannel authentication endpoint and the ciba grant
    "hint_missing": "Exactly one of login_hint, id_token_hint and login_hint_token is required.",
    "hint_unsupported": "Only login_hint is supported to identify the user.",
    "unknown_user": "The user named by the hint is not known.",
    "binding_message_invalid": "The binding_message is too long or has characters that cannot be shown.",
    "requested_expiry_invalid": "requested_expiry must be a positive integer.",
    "user_code_unsupported": "user_code is not supported.",
    "auth_req_id_invalid": "The auth_req_id is unknown or was not issued to this client.",
    "auth_req_id_used": "The auth_req_id has already been used.",
    "auth_req_id_expired": "The authentication request has expired.",
    "authorization_pending": "The user has not approved the request yet.",
    "slow_down": "Polling too fast: wait longer between requests.",
    "approval_denied": "The user denied the request.",
    # introspection / revocation
    "token_missing": "The token parameter is required.",
    # server
    "server_error": "The server encountered an unexpected condition.",
    "store_unavailable": "The service is temporarily unavailable.",
    # rate limits at the token endpoint (docs/operations.md)
    "rate_limited_client": "Too many requests from this client; retry after the Retry-After interval.",
    "rate_limited_user": "Too many token requests for this user; retry after the Retry-After interval.",
    # admin
    "admin_auth_required": "Administrator credentials are required.",
    "metrics_auth_required": "The metrics token is required.",
    "not_found": "The requested object does not exist.",
    "conflict": "The object already exists or conflicts with another.",
    "invalid_input": "The input is invalid.",
}


class DeputyError(Exception):
    """Base of every error Deputy renders to a client."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500
    # False for answers that are states rather than refusals (a CIBA poll before the user has
    # decided): logged, but not written to the audit trail at every poll.
    audited: ClassVar[bool] = True
    # Seconds for the Retry-After header (RFC 9110 §10.2.3), for errors a client should retry.
    retry_after: int | None = None

    def __init__(self, reason: str, detail: str = "", *, public: str | None = None) -> None:
        if reason not in PUBLIC_TEXT:
            raise ValueError(f"unknown error reason {reason!r}")
        self.reason = reason
        self.detail = detail
        # Only admin-facing errors pass their own public text (e.g. which field is invalid).
        self.description = public if public is not None else PUBLIC_TEXT[reason]
        super().__init__(f"{self.error}/{reason}: {detail}" if detail else f"{self.error}/{reason}")


class OAuthError(DeputyError):
    """An error rendered in RFC 6749 §5.2 form."""

    error = "invalid_request"
    status_code = 400


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401 with WWW-Authenticate."""

    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8707 §2 / RFC 8693 §2.2.2."""

    error = "invalid_target"


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    """The store (or another dependency) does not answer: 503 with Retry-After."""

    error = "temporarily_unavailable"
    status_code = 503
    retry_after = 1


class RateLimited(OAuthError):
    """A rate limit: HTTP 429 (RFC 6585 §4) with Retry-After. The code is ``slow_down``, the
    code RFC 8628 §3.5 and OpenID CIBA give a client that asks too often; RFC 6749 defines none
    for the token endpoint, and ``temporarily_unavailable`` would blame the server. (A CIBA
    poll that comes too early is another ``slow_down``: 400, per CIBA Core §11.)"""

    error = "slow_down"
    status_code = 429

    def __init__(self, reason: str, detail: str = "", *, retry_after: int = 1) -> None:
        super().__init__(reason, detail)
        self.retry_after = max(1, retry_after)


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class LoginRequired(OAuthError):
    """OIDC Core §3.1.2.6: prompt=none and nobody is signed in."""

    error = "login_required"


class ConsentRequired(OAuthError):
    """OIDC Core §3.1.2.6: prompt=none and the request needs the user's approval."""

    error = "consent_required"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: 401 with WWW-Authenticate: Bearer error="invalid_token"."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1."""

    error = "insufficient_scope"
    status_code = 403


class InvalidRedirectUri(OAuthError):
    """RFC 7591 §3.2.2."""

    error = "invalid_redirect_uri"


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2."""

    error = "invalid_client_metadata"


class AuthorizationPending(OAuthError):
    """OpenID CIBA Core §11: the user has not decided yet; poll again after the interval."""

    error = "authorization_pending"
    audited = False


class SlowDown(OAuthError):
    """OpenID CIBA Core §11: polling faster than the interval; the interval grows by 5 seconds."""

    error = "slow_down"


class ExpiredToken(OAuthError):
    """OpenID CIBA Core §11: the auth_req_id has expired."""

    error = "expired_token"


class ApprovalDenied(OAuthError):
    """OpenID CIBA Core §11: the user denied the request (``access_denied``, 400 at the token
    endpoint, unlike :class:`AccessDenied` at the backchannel authentication endpoint)."""

    error = "access_denied"


class UnknownUserId(OAuthError):
    """OpenID CIBA Core §13: the hint names no known user."""

    error = "unknown_user_id"


class InvalidBindingMessage(OAuthError):
    """OpenID CIBA Core §13."""

    error = "invalid_binding_message"


class AdminError(DeputyError):
    """Errors of the admin API and the realm file loader."""

    error = "invalid_request"
    status_code = 400


class InvalidInput(AdminError):
    error = "invalid_input"
    status_code = 400


class NotFound(AdminError):
    error = "not_found"
    status_code = 404


class Conflict(AdminError):
    error = "conflict"
    status_code = 409


class AdminAuthRequired(AdminError):
    error = "unauthorized"
    status_code = 401
