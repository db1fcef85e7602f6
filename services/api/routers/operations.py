"""Operator work on the telemetry path: register meters, inspect and replay quarantine."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from services.api.deps import OperatorPrincipal, SessionDep
from services.api.errors import Conflict, Forbidden, NotAuthenticated, NotFound, responses
from services.api.schemas import MeterOut
from services.core.db import psycopg_connection
from services.core.models import Enterprise, Gateway, Meter, MeterRole, QuarantinedTelemetry
from services.core.quantities import QUANTITIES, Carrier
from services.ingest.replay import quarantine_summary, replay_quarantine

router = APIRouter(prefix="/api/v1", tags=["operations"])


class MeterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(min_length=1, max_length=200)
    carrier: Carrier
    role: MeterRole
    quantities: list[str] = Field(min_length=1)
    enterprise_id: int | None = None
    gateway: str | None = None  # gateway code that reads it
    ct_ratio: float = Field(default=1.0, gt=0)
    pt_ratio: float = Field(default=1.0, gt=0)
    green_supply: bool = False
    register_max: float | None = Field(default=None, gt=0)
    rated_max_per_hour: float | None = Field(default=None, gt=0)

    @field_validator("quantities")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(QUANTITIES))
        if unknown:
            raise ValueError(f"unknown quantities {unknown}")
        return sorted(set(value))


class QuarantineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    received_at: datetime
    source: str
    reason: str
    detail: str
    meter_code: str | None
    payload: str
    replayed_at: datetime | None


class QuarantineGroup(BaseModel):
    reason: str
    meter_code: str | None
    entries: int


class QuarantinePage(BaseModel):
    open_by_reason: list[QuarantineGroup]
    entries: list[QuarantineEntry]


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meter_code: str | None = None
    ids: list[int] | None = Field(default=None, max_length=10_000)


class ReplayOut(BaseModel):
    examined: int
    replayed: int
    still_rejected: int
    readings_stored: int


@router.post(
    "/meters",
    response_model=MeterOut,
    status_code=201,
    responses=responses(NotAuthenticated, Forbidden, NotFound, Conflict),
)
def register_meter(body: MeterIn, session: SessionDep, principal: OperatorPrincipal) -> MeterOut:
    """Register a meter of this park (e.g. one whose readings wait in quarantine)."""
    if session.scalar(select(Meter.id).where(Meter.code == body.code)) is not None:
        raise Conflict(f"meter {body.code!r} already exists")
    if body.enterprise_id is not None:
        owner = session.get(Enterprise, body.enterprise_id)
        if owner is None or owner.park_id != principal.park_id:
            raise NotFound(f"enterprise {body.enterprise_id} not found")
    gateway_id = None
    if body.gateway is not None:
        gateway_id = session.scalar(
            select(Gateway.id).where(Gateway.code == body.gateway, Gateway.park_id == principal.park_id)
        )
        if gateway_id is None:
            raise NotFound(f"gateway {body.gateway!r} not found")
    meter = Meter(
        park_id=principal.park_id,
        **body.model_dump(exclude={"gateway"}),
        gateway_id=gateway_id,
        active=True,
    )
    session.add(meter)
    session.flush()
    return MeterOut.model_validate(meter)


@router.get("/quarantine", response_model=QuarantinePage, responses=responses(NotAuthenticated, Forbidden))
def list_quarantine(
    session: SessionDep,
    principal: OperatorPrincipal,
    reason: str | None = None,
    meter_code: str | None = None,
    include_replayed: bool = False,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> QuarantinePage:
    """Rejected telemetry with its reason and raw payload, newest first, and open entries
    grouped by reason and meter (an unknown meter shows up as one line with its count)."""
    query = select(QuarantinedTelemetry).order_by(QuarantinedTelemetry.id.desc()).limit(limit).offset(offset)
    if reason:
        query = query.where(QuarantinedTelemetry.reason == reason)
    if meter_code:
        query = query.where(QuarantinedTelemetry.meter_code == meter_code)
    if not include_replayed:
        query = query.where(QuarantinedTelemetry.replayed_at.is_(None))
    groups = quarantine_summary(psycopg_connection(session))
    return QuarantinePage(
        open_by_reason=[QuarantineGroup(reason=r, meter_code=m, entries=n) for r, m, n in groups],
        entries=[QuarantineEntry.model_validate(e) for e in session.scalars(query)],
    )


@router.post("/quarantine/replay", response_model=ReplayOut, responses=responses(NotAuthenticated, Forbidden))
def replay(body: ReplayIn, session: SessionDep, principal: OperatorPrincipal) -> ReplayOut:
    """Validate open quarantine entries again; store what is valid now (once)."""
    session.commit()  # replay commits per batch on the same connection
    result = replay_quarantine(psycopg_connection(session), body.meter_code, body.ids)
    return ReplayOut(
        examined=result.examined,
        replayed=result.replayed,
        still_rejected=result.still_rejected,
        readings_stored=result.readings_stored,
    )
