"""Quarantine for operators of one park: list it, replay it (services/ingest/replay.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access import audit
from services.access.policy import Principal
from services.core.db import psycopg_connection
from services.core.models import QuarantinedTelemetry
from services.ingest.replay import quarantine_summary, replay_quarantine
from services.ingest.schemas import QuarantineEntry, QuarantineGroup, QuarantinePage, ReplayIn, ReplayOut


def list_quarantine(
    session: Session,
    park_id: int,
    reason: str | None,
    meter_code: str | None,
    include_replayed: bool,
    limit: int,
    offset: int,
) -> QuarantinePage:
    query = (
        select(QuarantinedTelemetry)
        .where(QuarantinedTelemetry.park_id == park_id)
        .order_by(QuarantinedTelemetry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if reason:
        query = query.where(QuarantinedTelemetry.reason == reason)
    if meter_code:
        query = query.where(QuarantinedTelemetry.meter_code == meter_code)
    if not include_replayed:
        query = query.where(QuarantinedTelemetry.replayed_at.is_(None))
    groups = quarantine_summary(psycopg_connection(session), park_id)
    return QuarantinePage(
        open_by_reason=[QuarantineGroup(reason=r, meter_code=m, entries=n) for r, m, n in groups],
        entries=[QuarantineEntry.model_validate(e) for e in session.scalars(query)],
    )


def replay(session: Session, principal: Principal, body: ReplayIn) -> ReplayOut:
    """Replay in the request's transaction: it commits (with the audit entry) or not at all."""
    session.flush()
    result = replay_quarantine(
        psycopg_connection(session), principal.park, body.meter_code, body.ids, commit_each_batch=False
    )
    audit.record(
        session,
        principal,
        "quarantine.replay",
        f"quarantine:{body.meter_code or 'all'}",
        examined=result.examined,
        replayed=result.replayed,
        readings_stored=result.readings_stored,
    )
    return ReplayOut(
        examined=result.examined,
        replayed=result.replayed,
        still_rejected=result.still_rejected,
        readings_stored=result.readings_stored,
    )
