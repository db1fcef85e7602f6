"""The API process: REST /api/v1, the dashboard, /healthz and /metrics."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client import make_asgi_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.errors import (
    database_error_handler,
    domain_error_handler,
    http_error_handler,
    validation_error_handler,
)
from services.api.guards import AuthenticationGate, BodyGuard, SecurityHeaders
from services.api.routers import (
    admin,
    alerts,
    auth,
    carbon,
    carbon_inputs,
    enterprises,
    indicators,
    operations,
    park,
    register,
    reports,
    series,
    telemetry,
)
from services.core.db import make_engine, make_session_factory, resolve_database_url
from services.core.errors import DomainError
from services.core.settings import Settings, settings_and_logging
from services.dashboard import routes as dashboard
from services.dashboard.pages import SignInNeeded, answer_sign_in_needed
from services.ingest.http import HttpIngest

DESCRIPTION = """园区能碳管理平台 — real-time energy–carbon management for industrial parks.

Authenticate with `Authorization: Bearer <token>`: an access token from `POST /api/v1/auth/token`
(people) or a machine token (`pct_…`). Admins choose the park a request works in with
`?park=<code>` (default: the first park)."""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # the dashboard's first page view must not pay for compiling it: warmed beside start-up
    threading.Thread(target=dashboard.warm_up, name="dashboard-warm-up", daemon=True).start()
    await _walk_routes(app)
    configure_mappers()  # the ORM's mappers, else set up by the first query (30 ms)
    yield


async def _walk_routes(app: FastAPI) -> None:
    """FastAPI prepares an included router's routes (their dependencies analysed) when a
    request first reaches them: 0.4 s for all of ours, paid by the first users of each router
    in each worker. A path no route matches walks them all: asked here, in process, before
    the worker takes requests."""
    path = "/__routes-warm-up__"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: object) -> None:
        return None

    await app(scope, receive, send)


def create_app(session_factory: sessionmaker[Session]) -> FastAPI:
    app = FastAPI(title="parkcarbon API", description=DESCRIPTION, version="0.2.0", lifespan=_lifespan)
    app.state.session_factory = session_factory
    app.state.http_ingest = HttpIngest()
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)
    app.add_exception_handler(SignInNeeded, answer_sign_in_needed)  # a dashboard page, signed out
    for module in (
        auth,
        park,
        enterprises,
        register,
        series,
        reports,
        alerts,
        carbon,
        carbon_inputs,
        indicators,
        telemetry,
        operations,
        admin,
    ):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    app.mount("/metrics", make_asgi_app())  # admins and operators (AuthenticationGate)
    # Added innermost first: headers on every answer, credentials before the body is read.
    app.add_middleware(BodyGuard)
    app.add_middleware(AuthenticationGate, session_factory=session_factory)
    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_for(settings: Settings, database_url: str) -> FastAPI:
    """The app on its own pool of ``settings.api_database_pool`` connections, not pinged
    on checkout: the authentication gate's statement, the first of every API request, finds
    a connection the server closed, and SQLAlchemy then drops every connection of the pool
    older than that (a restarted server), so the request retries on a new one
    (services/api/guards.py); a request that loses its connection in flight is a 503."""
    engine = make_engine(database_url, pool_size=settings.api_database_pool, pre_ping=False)
    return create_app(make_session_factory(engine))


def app_from_environment() -> FastAPI:
    """The app as a worker process builds it (``parkcarbon serve --workers N``): settings and
    the database URL from the environment the supervising process set."""
    settings = settings_and_logging()
    return app_for(settings, resolve_database_url(settings))
