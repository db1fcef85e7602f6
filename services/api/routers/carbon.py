"""The park's hourly 电碳因子 feed, machine-readable for others to consume."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from services.access import audit
from services.access.dependencies import AdminPrincipal, FactorReader, ParkReader, Reader
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, json_records, table_content
from services.carbon import queries
from services.carbon.feed import MAX_ROWS, FeedRow, import_feed
from services.carbon.schemas import BalanceOut, EmissionVersionOut, FactorCatalogue, FactorRecord
from services.core.db import SessionDep
from services.core.errors import Forbidden, InvalidRange, NotAuthenticated, NotFound, responses
from services.core.exports import XLSX, attachment, xlsx_bytes
from services.core.params import TimeRangeDep
from services.park import queries as register

FEED_HEADER = ["location", "time", "duration_min", "value_kg_per_kwh"]
FACTOR_RECORD_FIELDS = list(FactorRecord.model_fields)
router = APIRouter(prefix="/api/v1", tags=["carbon"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)


@router.get(
    "/carbon-factors",
    response_model=list[FactorRecord],
    responses={
        **table_content("hourly 电碳因子 records"),
        **responses(NotAuthenticated, Forbidden, InvalidRange, NotFound),
    },
)
def carbon_factors(
    session: SessionDep,
    principal: FactorReader,
    period: TimeRangeDep,
    node: Annotated[
        str,
        Query(
            max_length=32,
            description="'park' (default), a bus code for its nodal factor, "
            "or 'all' for the park and every bus",
        ),
    ] = "park",
    format: FormatParam = "json",
) -> list[FactorRecord] | Response:
    """Hourly 电碳因子 in kgCO2/kWh as ``{location, time, duration, value}`` records: the
    park's (location = park code) and its buses' by carbon emission flow (location =
    ``park/bus``). A bus without flux in an hour has value null. Open to factor-feed tokens
    (devices such as carbon meters that read only the 电碳因子)."""
    the_park = register.park(session, principal.park)
    rows = queries.factor_feed(session, principal.park, period.start, period.end, node)
    if node not in ("park", "all") and not rows and not register.bus_in_park(session, principal.park, node):
        raise NotFound(f"no bus {node!r} in this park")
    code = the_park.code
    records = [(code if bus is None else f"{code}/{bus}", hour, 60, value) for bus, hour, value in rows]
    if format == "json":
        return json_records(FACTOR_RECORD_FIELDS, records)
    table: list[list[object]] = [
        [where, hour.isoformat(), minutes, value] for where, hour, minutes, value in records
    ]
    if format == "xlsx":
        return Response(
            xlsx_bytes([("电碳因子", FEED_HEADER, table)]),
            media_type=XLSX,
            headers=attachment(f"电碳因子-{the_park.code}.xlsx"),
        )
    out = io.StringIO()  # plain CSV (no BOM): devices read this feed
    writer = csv.writer(out)
    writer.writerow(FEED_HEADER)
    writer.writerows([[*row[:3], "" if row[3] is None else row[3]] for row in table])
    return Response(out.getvalue(), media_type="text/csv")


@router.get(
    "/carbon-balance",
    response_model=BalanceOut,
    responses=responses(NotAuthenticated, Forbidden, InvalidRange),
)
def carbon_balance(session: SessionDep, principal: ParkReader, period: TimeRangeDep) -> BalanceOut:
    """The park's carbon balance per hour, kgCO2: what entered (grid import × its factor, the
    CHP electricity's fuel, opening storage) against what was allocated (enterprises, public
    load, exports, storage change). ``residual_kg`` is 0 in an hour whose carbon is allocated
    exactly once; anything else points at the method or at the park's metering."""
    return queries.carbon_balance(session, principal.park, period.start, period.end)


@router.put(
    "/grid-factor-feed",
    responses=responses(NotAuthenticated, Forbidden),
)
def put_grid_factor_feed(
    rows: Annotated[list[FeedRow], Body(max_length=MAX_ROWS)], session: SessionDep, principal: AdminPrincipal
) -> dict[str, int]:
    """Import upstream hourly grid factors (a provincial or regional feed, e.g. State Grid
    Jiangsu's): they take precedence over the annual factors for the hours they cover, in
    every park of that region; those hours are recomputed by the next hourly run. Admins
    only: the feed is shared by every park of the region."""
    stored = import_feed(session, rows)
    regions = sorted({r.region for r in rows})
    audit.record(
        session, principal, "grid_factor_feed.import", f"regions:{','.join(regions)[:200]}", rows=stored
    )
    return {"stored": stored}


@router.get(
    "/emission-versions",
    response_model=list[EmissionVersionOut],
    responses=responses(NotAuthenticated, Forbidden),
)
def emission_versions(session: SessionDep, principal: ParkReader) -> list[EmissionVersionOut]:
    """Restatements of the park (newest first): why, how many hours, and the difference
    per enterprise and month between the superseded and the restated results."""
    return [EmissionVersionOut.model_validate(v) for v in queries.emission_versions(session, principal.park)]


@router.get("/emission-factors", response_model=FactorCatalogue, responses=responses(NotAuthenticated))
def emission_factors(principal: Reader) -> FactorCatalogue:
    """Every emission factor and coefficient the engine uses (the versioned data files), with
    its source, publication month and whether it was verified against its primary source."""
    return queries.factor_catalogue()
