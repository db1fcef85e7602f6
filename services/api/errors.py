"""One handler renders every domain error as ``{"error", "detail"}`` with its status; request
validation errors take the same shape with each field's place (``errors``), without echoing
the input (which may hold NaN or megabytes)."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.core.errors import DomainError, ErrorBody, FieldError, InvalidBody, RateLimited


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


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(
            loc=[p if isinstance(p, int) else str(p)[:100] for p in e.get("loc", ())][:10],
            msg=str(e.get("msg", ""))[:300],
            type=str(e.get("type", ""))[:100],
        )
        for e in exc.errors()[:20]
    ]
    first = errors[0] if errors else None
    where = ".".join(str(p) for p in first.loc) if first else ""
    detail = f"{where}: {first.msg}" if first else "invalid request"
    return JSONResponse(InvalidBody(error="invalid_input", detail=detail, errors=errors).model_dump(), 422)
