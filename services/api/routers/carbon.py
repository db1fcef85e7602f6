"""The park's hourly 电碳因子 feed, machine-readable for others to consume."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.api import queries
from services.api.deps import CurrentPrincipal, SessionDep
from services.api.errors import InvalidRange, NotAuthenticated, responses
from services.api.routers.time_range import TimeRangeDep
from services.api.schemas import FactorRecord

router = APIRouter(prefix="/api/v1", tags=["carbon"])


@router.get(
    "/carbon-factors",
    response_model=list[FactorRecord],
    responses={**responses(NotAuthenticated, InvalidRange), 200: {"content": {"text/csv": {}}}},
)
def carbon_factors(
    session: SessionDep,
    principal: CurrentPrincipal,
    period: TimeRangeDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> list[FactorRecord] | Response:
    """Hourly 电碳因子 in kgCO2/kWh as ``{location, time, duration, value}`` records."""
    the_park = queries.park(session, principal.park_id)
    records = [
        FactorRecord(location=the_park.code, time=f.hour_start, duration=60, value=f.factor_kg_per_kwh)
        for f in queries.park_factors(session, principal.park_id, period.start, period.end)
    ]
    if format == "json":
        return records
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["location", "time", "duration_min", "value_kg_per_kwh"])
    for r in records:
        writer.writerow([r.location, r.time.isoformat(), r.duration, "" if r.value is None else r.value])
    return Response(out.getvalue(), media_type="text/csv")
