"""One handler renders every domain error as ``{"error", "detail"}`` with its status; request
validation errors take the same shape with each field's place (``errors``), without echoing
the input (which may hold NaN or megabytes)."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core.errors import (
    DatabaseUnavailable,
    DomainError,
    ErrorBody,
    FieldError,
    InvalidBody,
    InvalidRows,
    RateLimited,
)


async def domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, InvalidRows):
        body = InvalidBody(error=exc.code, detail=exc.detail, errors=exc.errors)
        return JSONResponse(body.model_dump(), exc.status_code)
    return JSONResponse(
        ErrorBody(error=exc.code, detail=exc.detail).model_dump(), exc.status_code, headers=headers or None
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A connection lost in flight (the server restarted or dropped it) is the database being
    unavailable for a moment: 503 with a retry hint. Any other database error is a defect: it
    goes on to the 500 handler."""
    assert isinstance(exc, DBAPIError)
    if not exc.connection_invalidated:
        raise exc
    return await domain_error_handler(request, DatabaseUnavailable())


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


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework refusals in the same shape: an unparsable body is a 422 like any invalid
    input; a 405 lists every method of the path (Starlette names only the first route's)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        body = InvalidBody(error="invalid_input", detail=str(exc.detail)[:300])
        return JSONResponse(body.model_dump(), 422)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = {
            method
            for route in request.app.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
            for method in route.methods or ()
        }
        headers["Allow"] = ", ".join(sorted(methods))
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        ErrorBody(error=code, detail=str(exc.detail)).model_dump(), exc.status_code, headers=headers
    )
