"""HTTP telemetry for gateways that cannot speak MQTT: the same contract and validation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.access.dependencies import GatewayPrincipal
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.core.db import SessionDep
from services.core.errors import (
    Forbidden,
    InvalidBody,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    responses,
)
from services.ingest.http import MAX_BODY_BYTES
from services.ingest.schemas import TelemetryResult, telemetry_request_body
from services.ingest.validation import WHOLE_MESSAGE_REASONS

router = APIRouter(
    prefix="/api/v1", tags=["telemetry"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)


@router.post(
    "/telemetry",
    response_model=TelemetryResult,
    responses=responses(NotAuthenticated, Forbidden, PayloadTooLarge, InvalidInput),
    openapi_extra=telemetry_request_body(),
)
async def post_telemetry(
    request: Request, session: SessionDep, principal: GatewayPrincipal
) -> TelemetryResult | JSONResponse:
    """Accept one batch ``{"gateway", "seq", "readings": [...]}`` (at most 4 MB) from a
    gateway token; readings of meters not wired to that gateway are quarantined
    (``meter_not_on_gateway``), as are invalid ones, each with a reason listed in the answer;
    valid ones are stored. A message that is not a batch at all (not JSON, no ``readings``
    list) is quarantined whole and answered 422."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"batch larger than {MAX_BODY_BYTES} bytes; split it")
    # The session is synchronous: keep its database work off the event loop.
    result: TelemetryResult = await run_in_threadpool(
        request.app.state.http_ingest.store_batch, session, principal, body
    )
    whole = [r for r in result.rejected if r["reason"] in WHOLE_MESSAGE_REASONS]
    if whole and result.accepted == 0:
        # Answered, not raised: the quarantine entry must be committed with the request.
        refusal = InvalidBody(error=str(whole[0]["reason"]), detail=str(whole[0]["detail"])[:500])
        return JSONResponse(refusal.model_dump(), 422)
    return result
