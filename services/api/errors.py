"""One handler renders every domain error as ``{"error", "detail"}`` with its status."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from services.core.errors import DomainError, ErrorBody, RateLimited


async def domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse(
        ErrorBody(error=exc.code, detail=exc.detail).model_dump(), exc.status_code, headers=headers or None
    )
