"""The desk's errors, in ServiceNow's shape: ``{"error": {"message", "detail"}, "status": "failure"}``.

Each class has a fixed ``message``; ``detail`` says what was wrong with the request (never a
stack trace, never anything the caller may not see).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "DeskError",
    "InvalidQuery",
    "NoRecord",
    "NotADeskUser",
    "UpdateRefused",
    "error_body",
]


class DeskError(Exception):
    status_code = 500
    message = "Internal server error"
    default_detail = "The request could not be completed."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.detail)


class InvalidQuery(DeskError):
    status_code = 400
    message = "Invalid encoded query"


class BadRequest(DeskError):
    status_code = 400
    message = "Invalid request"


class NotADeskUser(DeskError):
    status_code = 403
    message = "User Not Authorized"
    default_detail = "The token's user is not a user of the incident desk."


class UpdateRefused(DeskError):
    status_code = 403
    message = "Operation Failed"
    default_detail = "ACL Exception Update Failed due to security constraints"


class NoRecord(DeskError):
    """Both for a record that does not exist and one the caller may not see: no difference shows."""

    status_code = 404
    message = "No Record found"
    default_detail = "Record doesn't exist or ACL restricts the record retrieval"


def error_body(message: str, detail: str) -> dict[str, Any]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}
