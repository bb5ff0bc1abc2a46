"""One exception tree: each class carries the HTTP status and the stable error code."""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "InvalidCredentials",
    "NotAuthenticated",
    "NotFound",
    "ParleyError",
    "PayloadTooLarge",
    "RateLimited",
    "RefreshTokenReused",
    "UnsupportedType",
    "UsernameTaken",
]


class ConfigurationError(Exception):
    """The settings cannot run: raised at start, shown to the operator, never to a client."""


class ParleyError(Exception):
    """A failure a client caused or may see; rendered as ``{"error", "detail"}``."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_detail: ClassVar[str] = "The request could not be understood."
    # True for a failure that must still commit what the request changed (a login revoked
    # after a stolen refresh token was replayed); the unit of work reads it.
    keeps_changes: ClassVar[bool] = False

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class BadRequest(ParleyError):
    pass


class NotAuthenticated(ParleyError):
    status_code = 401
    code = "unauthorized"
    default_detail = "Missing, invalid or expired credentials."


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    default_detail = "Unknown username or wrong password."


class RefreshTokenReused(NotAuthenticated):
    keeps_changes = True
    default_detail = "This refresh token was already used; the login has been revoked."


class Forbidden(ParleyError):
    status_code = 403
    code = "forbidden"
    default_detail = "You may not do that."


class NotFound(ParleyError):
    status_code = 404
    code = "not_found"
    default_detail = "Not found."


class Conflict(ParleyError):
    status_code = 409
    code = "conflict"
    default_detail = "The request conflicts with the current state."


class UsernameTaken(Conflict):
    code = "username_taken"
    default_detail = "That username is taken."


class PayloadTooLarge(ParleyError):
    status_code = 413
    code = "too_large"
    default_detail = "The payload is larger than allowed."


class UnsupportedType(ParleyError):
    status_code = 415
    code = "unsupported_type"
    default_detail = "This type of file is not supported."


class RateLimited(ParleyError):
    status_code = 429
    code = "rate_limited"
    default_detail = "Too many requests; slow down."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(detail)
