"""Guards every request passes before a router sees it (pure ASGI middleware, so that nothing
is parsed before they decide):

* ``SecurityHeaders``: CSP, frame-ancestors, nosniff, referrer policy on every answer (OWASP
  Secure Headers Project);
* ``AuthenticationGate``: an API or metrics call without valid credentials is answered 401
  before its body is read (a fuzzer's 10 MB body costs nothing);
* ``BodyGuard``: a body larger than its endpoint's limit is 413 (checked on the declared
  length and on what actually arrives); a NUL byte in the URL or body (which PostgreSQL text
  cannot hold) is 422, except in the files of ``BINARY_BODIES`` (an .xlsx is a zip).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from services.access.dependencies import principal_for_bearer
from services.access.policy import Principal, require
from services.core.errors import (
    DatabaseUnavailable,
    DomainError,
    ErrorBody,
    InvalidInput,
    PayloadTooLarge,
    RateLimited,
)
from services.core.models import Role
from services.ingest.http import MAX_BODY_BYTES as TELEMETRY_BODY_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_BYTES = 256 * 1024  # every endpoint but the bulk ones: forms, reports, thresholds
# bulk endpoints: telemetry batches; an hourly grid factor feed of up to a year of hours
LARGE_BODIES = {
    "/api/v1/telemetry": TELEMETRY_BODY_BYTES,
    "/api/v1/grid-factor-feed": 4 * 1024 * 1024,
    "/api/v1/register/import": 10 * 1024 * 1024,  # a workbook of a large park's register
    "/dashboard/reports/new": 10 * 1024 * 1024 + 64 * 1024,  # an evidence file and the form's fields
}
# Files, whose parsers check each cell; by path pattern (evidence goes to a report's id).
# the dashboard's report form carries its evidence file in a multipart body
BINARY_BODIES = (
    re.compile(r"^/api/v1/register/import$"),
    re.compile(r"^/api/v1/reports/\d+/evidence$"),
    re.compile(r"^/dashboard/reports/new$"),
)
EVIDENCE_BODY = re.compile(r"^/api/v1/reports/\d+/evidence$")
EVIDENCE_BODY_BYTES = 10 * 1024 * 1024 + 1  # one past the evidence limit: its own 413 names the file
PUBLIC_API = frozenset({"/api/v1/auth/token"})
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


async def send_error(send: Send, error: DomainError) -> None:
    body = ErrorBody(error=error.code, detail=error.detail).model_dump_json().encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.status_code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if isinstance(error, RateLimited):  # and DatabaseUnavailable: when to try again
        headers.append((b"retry-after", str(error.retry_after_s).encode()))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in names
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class AuthenticationGate:
    """Authenticates /api/v1 (but the sign-in itself) and /metrics before anything else."""

    def __init__(self, app: ASGIApp, session_factory: sessionmaker[Session]) -> None:
        self.app = app
        self.engine = session_factory.kw["bind"]

    def _principal(self, authorization: str | None, park: str | None, path: str) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else None
        for attempt in (1, 2):
            try:
                # Autocommit: the lookup (and the odd last-used update) is one statement each,
                # with no BEGIN and COMMIT round trips around it on every request.
                with self.engine.connect() as conn:
                    principal = principal_for_bearer(
                        conn.execution_options(isolation_level="AUTOCOMMIT"), bearer, park
                    )
                break
            except DBAPIError as error:
                # the pool is not pinged (api.app.app_for): a connection the server closed
                # fails here first, the pool drops its elder ones, and the lookup runs again
                if not error.connection_invalidated:
                    raise
                if attempt == 2:
                    raise DatabaseUnavailable() from error
        if path.startswith("/metrics"):
            require(principal, frozenset({Role.ADMIN, Role.OPERATOR}), "metrics")
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        gated = path.startswith("/api/v1/") or path.startswith("/metrics")
        if scope["type"] != "http" or not gated or path in PUBLIC_API:
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        park = query.get("park", [None])[0]
        try:
            principal = await run_in_threadpool(self._principal, _header(scope, b"authorization"), park, path)
        except DomainError as error:
            await send_error(send, error)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class BodyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_url = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if b"\x00" in unquote(raw_url.decode("latin-1")).encode("latin-1", errors="replace"):
            await send_error(send, InvalidInput("NUL characters are not accepted"))
            return
        path = scope.get("path", "")
        limit = EVIDENCE_BODY_BYTES if EVIDENCE_BODY.match(path) else LARGE_BODIES.get(path, BODY_BYTES)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await send_error(send, PayloadTooLarge(f"the body may hold at most {limit} bytes"))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(send, PayloadTooLarge(f"the body may hold at most {limit} bytes"))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        binary = any(pattern.match(path) for pattern in BINARY_BODIES)
        # raw, JSON-escaped (\u0000) or form-encoded (%00) NUL: PostgreSQL text cannot hold it
        form = (_header(scope, b"content-type") or "").startswith("application/x-www-form-urlencoded")
        if not binary and (b"\x00" in body or b"\\u0000" in body or (form and b"%00" in body)):
            await send_error(send, InvalidInput("NUL characters are not accepted"))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
