"""Domain errors carry their HTTP status; one handler renders them."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
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


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


def responses(*errors: type[DomainError]) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` entry listing an endpoint's domain errors."""
    return {e.status_code: {"model": ErrorBody, "description": e.code} for e in errors}


async def domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(
        ErrorBody(error=exc.code, detail=exc.detail).model_dump(), exc.status_code, headers=headers
    )
