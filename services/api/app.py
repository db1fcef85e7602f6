"""The API process: REST /api/v1, the dashboard, /healthz and /metrics."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import make_asgi_app
from sqlalchemy.orm import Session, sessionmaker

from services.api.errors import DomainError, domain_error_handler
from services.api.routers import carbon, carbon_inputs, enterprises, indicators, operations, park, telemetry
from services.dashboard import routes as dashboard


def create_app(session_factory: sessionmaker[Session]) -> FastAPI:
    app = FastAPI(
        title="parkcarbon API",
        summary="园区能碳管理平台 — real-time energy–carbon management for industrial parks",
        version="0.1.0",
    )
    app.state.session_factory = session_factory
    app.add_exception_handler(DomainError, domain_error_handler)
    for module in (park, enterprises, carbon, carbon_inputs, indicators, telemetry, operations):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    app.mount("/metrics", make_asgi_app())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
