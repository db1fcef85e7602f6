"""Telemetry over HTTP for gateways that cannot speak MQTT: the same contract and validation.

The meter directory is loaded once per process and reloaded only when its version (bumped
by triggers on meter, gateway and park, migration 0008) moved, so a newly registered meter
is accepted by the very next request without a directory load per request."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import Principal
from services.core.contract import http_source
from services.core.db import psycopg_connection
from services.core.errors import Forbidden
from services.core.models import Gateway, Park
from services.ingest.processor import Payload, TelemetryProcessor
from services.ingest.schemas import TelemetryResult

MAX_BODY_BYTES = 4 * 1024 * 1024


class HttpIngest:
    """One per API process; request threads share its directory."""

    def __init__(self) -> None:
        self._processor = TelemetryProcessor()
        self._lock = threading.Lock()

    def store_batch(self, session: Session, principal: Principal, body: bytes) -> TelemetryResult:
        found = session.execute(
            select(Gateway.code, Park.code)
            .join(Park, Park.id == Gateway.park_id)
            .where(Gateway.id == principal.gateway_id, Gateway.park_id == principal.park_id)
        ).first()
        if found is None:
            raise Forbidden("this token's gateway is no longer registered")
        gateway_code, park_code = found
        conn = psycopg_connection(session)
        # The token names park and gateway: readings of meters wired to another gateway are
        # refused, as the broker's ACL does for MQTT topics.
        payload = Payload(http_source(park_code, gateway_code), body, park_code, gateway_code)
        with self._lock:  # the directory is shared; the database write is not serialised
            self._processor.reload_if_changed(conn)
            prepared = self._processor.prepare([payload], "http", conn)
        result = self._processor.write(conn, prepared)
        self._processor.committed(prepared, result)  # the request commits right after
        session.execute(
            update(Gateway).where(Gateway.id == principal.gateway_id).values(last_seen_at=datetime.now(UTC))
        )
        audit.record(
            session,
            principal,
            "telemetry.submit",
            f"gateway:{gateway_code}",
            accepted=result.accepted,
            stored=result.stored,
            rejected=len(result.rejected),
        )
        return TelemetryResult(
            accepted=result.accepted,
            stored=result.stored,
            rejected=[
                {"reason": r.reason, "detail": r.detail, "meter": r.meter_code} for r in result.rejected
            ],
        )
