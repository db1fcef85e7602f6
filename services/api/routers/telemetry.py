"""HTTP telemetry for gateways that cannot speak MQTT: the same contract and validation."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.api.deps import GatewayPrincipal, SessionDep
from services.api.errors import Forbidden, NotAuthenticated, PayloadTooLarge, responses
from services.api.schemas import TelemetryResult
from services.core.db import psycopg_connection
from services.core.models import ApiPrincipal, Gateway
from services.ingest.processor import Payload, TelemetryProcessor

router = APIRouter(prefix="/api/v1", tags=["telemetry"])
MAX_BODY_BYTES = 4 * 1024 * 1024


@router.post(
    "/telemetry",
    response_model=TelemetryResult,
    responses=responses(NotAuthenticated, Forbidden, PayloadTooLarge),
)
async def post_telemetry(
    request: Request, session: SessionDep, principal: GatewayPrincipal
) -> TelemetryResult:
    """Accept one batch ``{"gateway", "seq", "readings": [...]}``; invalid readings are
    quarantined with a reason and listed in the answer, valid ones are stored."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"batch larger than {MAX_BODY_BYTES} bytes; split it")
    # The session is synchronous: keep its database work off the event loop.
    return await run_in_threadpool(store_batch, session, principal, body)


def store_batch(session: Session, principal: ApiPrincipal, body: bytes) -> TelemetryResult:
    conn = psycopg_connection(session)
    processor = TelemetryProcessor()
    processor.reload(conn)
    gateway_code = next((c for c, i in processor.gateways.items() if i == principal.gateway_id), None)
    # Same validation as MQTT; the token names the gateway, so readings of meters wired to
    # another gateway are refused (the broker's ACL does the same for MQTT topics).
    payload = Payload(f"http:{gateway_code or principal.gateway_id}", body, gateway_code)
    result = processor.process(conn, [payload], "http")
    if principal.gateway_id is not None:
        session.execute(
            update(Gateway).where(Gateway.id == principal.gateway_id).values(last_seen_at=datetime.now(UTC))
        )
    return TelemetryResult(
        accepted=result.accepted,
        stored=result.stored,
        rejected=[{"reason": r.reason, "detail": r.detail, "meter": r.meter_code} for r in result.rejected],
    )
