"""Operator work on the telemetry path: register meters, inspect and replay quarantine."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.access.dependencies import ParkReader, ParkWriter
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, as_file, table_content
from services.core.db import SessionDep
from services.core.errors import Conflict, Forbidden, NotAuthenticated, NotFound, responses
from services.ingest import quarantine
from services.ingest.schemas import QuarantineEntry, QuarantinePage, ReplayIn, ReplayOut
from services.park import service
from services.park.schemas import MeterIn, MeterOut

router = APIRouter(
    prefix="/api/v1", tags=["operations"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)


@router.post(
    "/meters",
    response_model=MeterOut,
    status_code=201,
    responses=responses(NotAuthenticated, Forbidden, NotFound, Conflict),
)
def register_meter(body: MeterIn, session: SessionDep, principal: ParkWriter) -> MeterOut:
    """Register a meter of this park (e.g. one whose readings wait in quarantine)."""
    return MeterOut.model_validate(service.register_meter(session, principal, body))


@router.get(
    "/quarantine",
    response_model=QuarantinePage,
    responses={
        **table_content("the quarantine (files: its entries)"),
        **responses(NotAuthenticated, Forbidden),
    },
)
def list_quarantine(
    session: SessionDep,
    principal: ParkReader,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    meter_code: Annotated[str | None, Query(max_length=64)] = None,
    include_replayed: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    format: FormatParam = "json",
) -> Any:
    """Rejected telemetry of this park with its reason and raw payload, newest first, and
    open entries grouped by reason and meter (an unknown meter shows up as one line)."""
    page = quarantine.list_quarantine(
        session, principal.park, reason, meter_code, include_replayed, limit, offset
    )
    return page if format == "json" else as_file(page.entries, QuarantineEntry, "quarantine", format)


@router.post("/quarantine/replay", response_model=ReplayOut, responses=responses(NotAuthenticated, Forbidden))
def replay(body: ReplayIn, session: SessionDep, principal: ParkWriter) -> ReplayOut:
    """Validate this park's open quarantine entries again; store what is valid now (once)."""
    return quarantine.replay(session, principal, body)
