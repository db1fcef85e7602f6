"""Domain errors with the HTTP status they mean. Raised by every domain (no web framework
here); ``services/api/errors.py`` renders them, in the caller's language where given."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    error: str
    detail: str


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


def responses(*errors: type[DomainError]) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` entry listing an endpoint's domain errors."""
    return {e.status_code: {"model": ErrorBody, "description": e.code} for e in errors}
