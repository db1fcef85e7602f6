"""The park's hourly 电碳因子 feed, machine-readable for others to consume."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.api import queries
from services.api.deps import CurrentPrincipal, SessionDep
from services.api.errors import InvalidRange, NotAuthenticated, NotFound, responses
from services.api.routers.time_range import TimeRangeDep
from services.api.schemas import FactorRecord

router = APIRouter(prefix="/api/v1", tags=["carbon"])


@router.get(
    "/carbon-factors",
    response_model=list[FactorRecord],
    responses={**responses(NotAuthenticated, InvalidRange, NotFound), 200: {"content": {"text/csv": {}}}},
)
def carbon_factors(
    session: SessionDep,
    principal: CurrentPrincipal,
    period: TimeRangeDep,
    node: Annotated[
        str,
        Query(
            max_length=32,
            description="'park' (default), a bus code for its nodal factor, "
            "or 'all' for the park and every bus",
        ),
    ] = "park",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> list[FactorRecord] | Response:
    """Hourly 电碳因子 in kgCO2/kWh as ``{location, time, duration, value}`` records: the
    park's (location = park code) and its buses' by carbon emission flow (location =
    ``park/bus``). A bus without flux in an hour has value null."""
    the_park = queries.park(session, principal.park_id)
    rows = queries.factor_feed(session, principal.park_id, period.start, period.end, node)
    if node not in ("park", "all") and not rows and not queries.bus_in_park(session, principal.park_id, node):
        raise NotFound(f"no bus {node!r} in this park")
    records = [
        FactorRecord(
            location=the_park.code if bus is None else f"{the_park.code}/{bus}",
            time=hour,
            duration=60,
            value=value,
        )
        for bus, hour, value in rows
    ]
    if format == "json":
        return records
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["location", "time", "duration_min", "value_kg_per_kwh"])
    for r in records:
        writer.writerow([r.location, r.time.isoformat(), r.duration, "" if r.value is None else r.value])
    return Response(out.getvalue(), media_type="text/csv")
