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
    "ServerError",
    "TemporarilyUnavailable",
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
    # target and scope
    "target_missing": "An audience or resource is required.",
    "target_multiple": "Only one audience or resource may be requested.",
    "target_invalid": "The resource must be an absolute URI without a fragment.",
    "target_unknown": "The requested audience or resource is not known.",
    "target_not_allowed": "The client may not obtain tokens for this audience.",
    "scope_invalid": "The scope parameter is malformed.",
    "scope_empty": "None of the requested scopes can be granted.",
    "subject_token_without_scope": "The subject token carries no scope to delegate.",
    # introspection / revocation
    "token_missing": "The token parameter is required.",
    # server
    "server_error": "The server encountered an unexpected condition.",
    "store_unavailable": "The service is temporarily unavailable.",
    # admin
    "admin_auth_required": "Administrator credentials are required.",
    "not_found": "The requested object does not exist.",
    "conflict": "The object already exists or conflicts with another.",
    "invalid_input": "The input is invalid.",
}


class DeputyError(Exception):
    """Base of every error Deputy renders to a client."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500

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
    error = "temporarily_unavailable"
    status_code = 503


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
