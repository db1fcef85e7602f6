"""Domain errors with the HTTP status they mean. Raised by every domain (no web framework
here); ``services/api/errors.py`` renders them, in the caller's language where given."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    error: str
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class InvalidBody(ErrorBody):
    """A 422: a domain check (``errors`` empty) or the request's fields, each with its place."""

    errors: list[FieldError] = []


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class InvalidRange(DomainError):
    status_code = 422
    code = "invalid_range"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class InvalidRows(InvalidInput):
    """A 422 for a file: every row that failed, each as (sheet, row, column) and its reason."""

    def __init__(self, detail: str, errors: list[FieldError]) -> None:
        super().__init__(detail)
        self.errors = errors


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class DatabaseUnavailable(RateLimited):
    """The database connection was lost (a restart, a dropped connection): try again shortly."""

    status_code = 503
    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("the database connection was lost; retry in a moment", retry_after_s=1)


def responses(*errors: type[DomainError]) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` entry listing an endpoint's domain errors."""
    return {
        e.status_code: {"model": InvalidBody if e.status_code == 422 else ErrorBody, "description": e.code}
        for e in errors
    }


# What every API endpoint may answer besides its own: 401 from the authentication gate,
# 413 and 422 from the body guard and request validation (services/api/guards.py).
COMMON_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "not_authenticated"},
    413: {"model": ErrorBody, "description": "payload_too_large"},
    422: {"model": InvalidBody, "description": "invalid_input"},
}
