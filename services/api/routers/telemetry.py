"""HTTP telemetry for gateways that cannot speak MQTT: the same contract and validation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from services.access.dependencies import GatewayPrincipal
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.core.db import SessionDep
from services.core.errors import (
    Forbidden,
    NotAuthenticated,
    PayloadTooLarge,
    responses,
)
from services.ingest.http import MAX_BODY_BYTES
from services.ingest.schemas import TelemetryResult

router = APIRouter(
    prefix="/api/v1", tags=["telemetry"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)


@router.post(
    "/telemetry",
    response_model=TelemetryResult,
    responses=responses(NotAuthenticated, Forbidden, PayloadTooLarge),
)
async def post_telemetry(
    request: Request, session: SessionDep, principal: GatewayPrincipal
) -> TelemetryResult:
    """Accept one batch ``{"gateway", "seq", "readings": [...]}`` from a gateway token;
    readings of meters not wired to that gateway are quarantined (``meter_not_on_gateway``),
    as are invalid ones, each with a reason listed in the answer; valid ones are stored."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"batch larger than {MAX_BODY_BYTES} bytes; split it")
    # The session is synchronous: keep its database work off the event loop.
    return await run_in_threadpool(request.app.state.http_ingest.store_batch, session, principal, body)
