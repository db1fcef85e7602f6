"""Energy at 15-minute, hourly, daily and monthly resolution for a meter, a site, an
enterprise or the park, as JSON, CSV (streamed) or Excel; data completeness per meter,
enterprise and day. An enterprise reaches only its own meters, sites and itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.access.dependencies import Reader
from services.access.policy import Principal, visible_enterprise
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, as_table, table_content
from services.carbon.completeness import MAX_DAYS, Completeness, completeness
from services.carbon.power import RAW_MAX_ROWS, PowerPoint, RawReading, meter_readings, power_series
from services.carbon.series import (
    EnergyPoint,
    Resolution,
    Scope,
    SeriesRequest,
    energy_series,
    energy_series_json,
)
from services.core.db import SessionDep
from services.core.errors import Forbidden, InvalidInput, InvalidRange, NotAuthenticated, NotFound, responses
from services.core.exports import XLSX, attachment, csv_chunks, xlsx_bytes
from services.core.params import INT4_MAX, IdPath, OptionalIdQuery, TimeRange, TimeRangeDep
from services.park import queries
from services.park.register import KINDS, get_object
from services.park.schemas import QuantityCode

POWER_MAX_RANGE = timedelta(days=31)  # a park's month of quarters: 152 boundary meters' 450 000 rows
RAW_MAX_RANGE = timedelta(days=2)  # a meter's readings are found through the time-leading key
router = APIRouter(prefix="/api/v1", tags=["series"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)
ERRORS = responses(NotAuthenticated, Forbidden, NotFound, InvalidRange, InvalidInput)
HEADER = [
    "start（开始时间）",
    "series（能源品种/计量量）",
    "unit（单位）",
    "value（数值）",
    "quality（数据质量）",
    "covered_share（覆盖率）",
]
FILE_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {},
            "text/csv": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "the series, as JSON, CSV (UTF-8 with BOM) or Excel",
    }
}


# a series' scope, its owner and resolution, as every series endpoint takes them
ScopeParam = Annotated[Scope, Query(description="meter | site | enterprise | park")]
OwnerParam = Annotated[
    int | None, Query(alias="id", ge=1, le=INT4_MAX, description="the meter, site or enterprise")
]
ResolutionParam = Annotated[Resolution, Query(description="15min | hour | day | month (local days)")]


def _owner(session: SessionDep, principal: Principal, scope: Scope, owner_id: int | None) -> int | None:
    """The id the scope names, checked: in the principal's park, and an enterprise's own."""
    own = visible_enterprise(principal, None)  # an enterprise: its id; the park's readers: None
    if scope == "park":
        if own is not None:
            raise Forbidden("the park's series is open to the park's readers")
        return None
    if owner_id is None:
        raise InvalidInput(f"id: required with scope={scope}")
    if scope == "enterprise":
        visible_enterprise(principal, owner_id)
        queries.enterprise(session, principal.park, owner_id)
    elif scope == "meter":
        queries.meter(session, principal.park, owner_id, own)
    else:
        site = get_object(session, principal.park, KINDS["sites"], owner_id)
        if own is not None and site.enterprise_id != own:
            raise NotFound(f"site {owner_id} not found")
    return owner_id


def _series_request(
    session: SessionDep,
    principal: Principal,
    period: TimeRange,
    scope: Scope,
    owner_id: int | None,
    resolution: Resolution,
) -> SeriesRequest:
    """What a series endpoint was asked for, its owner checked (``_owner``), in its park."""
    owner = _owner(session, principal, scope, owner_id)
    park = queries.park(session, principal.park)
    return SeriesRequest(park.id, park.timezone, scope, owner, resolution, period.start, period.end)


def _file_name(kind: str, asked: SeriesRequest) -> str:
    owner = f"-{asked.owner_id}" if asked.owner_id else ""
    return f"{kind}-{asked.scope}{owner}-{asked.resolution}"


@router.get("/series/energy", response_model=list[EnergyPoint], responses={**FILE_CONTENT, **ERRORS})
def energy(
    request: Request,
    session: SessionDep,
    principal: Reader,
    period: TimeRangeDep,
    scope: ScopeParam = "park",
    owner_id: OwnerParam = None,
    resolution: ResolutionParam = "hour",
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Any:
    """Energy (kWh, m³, GJ) per interval with its data quality carried up and the share of
    the interval the readings covered. Days and months are the park's local ones."""
    asked = _series_request(session, principal, period, scope, owner_id, resolution)
    name = _file_name("energy", asked)
    if format == "json":
        # built by PostgreSQL (FastAPI would validate every point against the response model,
        # then serialise it: 14 µs a point, most of an enterprise's week)
        return Response(energy_series_json(session, asked), media_type="application/json")
    if format == "xlsx":
        rows = ([p.start.isoformat(), p.series, p.unit, p.value, p.quality, p.covered_share]
                for p in energy_series(session, asked))  # fmt: skip
        return Response(
            xlsx_bytes([(name, HEADER, rows)]),
            media_type=XLSX,
            headers=attachment(f"{name}.xlsx"),
        )
    factory = request.app.state.session_factory

    def streamed() -> Iterator[list[object]]:
        # its own read-only session: the request's has ended by the time the body streams
        with factory() as own_session:
            for p in energy_series(own_session, asked, stream=True):
                yield [p.start.isoformat(), p.series, p.unit, p.value, p.quality, p.covered_share]

    return StreamingResponse(
        csv_chunks(HEADER, streamed()),
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"{name}.csv"),
    )


@router.get(
    "/series/power", response_model=list[PowerPoint], responses={**table_content("the series"), **ERRORS}
)
def power(
    session: SessionDep,
    principal: Reader,
    period: TimeRangeDep,
    scope: ScopeParam = "park",
    owner_id: OwnerParam = None,
    resolution: ResolutionParam = "hour",
    format: FormatParam = "json",
) -> Any:
    """Load (kW) per interval from the meters' power readings: the mean, the peak
    quarter-hour mean (demand, 最大需量) and, for a meter, its highest and lowest reading;
    at most 31 days per request."""
    asked = _series_request(session, principal, period, scope, owner_id, resolution)
    if period.end - period.start > POWER_MAX_RANGE:
        raise InvalidRange(f"at most {POWER_MAX_RANGE.days} days of power per request")
    rows = power_series(session, asked)
    return as_table(rows, PowerPoint, _file_name("power", asked), format)


@router.get(
    "/meters/{meter_id}/readings",
    response_model=list[RawReading],
    responses={**table_content("the readings"), **ERRORS},
)
def readings(
    meter_id: IdPath,
    session: SessionDep,
    principal: Reader,
    period: TimeRangeDep,
    quantity: Annotated[QuantityCode | None, Query(description="one quantity; all when absent")] = None,
    format: FormatParam = "json",
) -> Any:
    """A meter's readings as they came (the raw resolution), at most 2 days and 50 000
    readings per request. An enterprise reads only its own meters."""
    own = visible_enterprise(principal, None)
    meter = queries.meter(session, principal.park, meter_id, own)
    if period.end - period.start > RAW_MAX_RANGE:
        raise InvalidRange(f"at most {RAW_MAX_RANGE.days} days of raw readings per request")
    park = queries.park(session, principal.park)
    rows = meter_readings(session, meter.id, park.timezone, period.start, period.end, quantity)
    if rows is None:
        raise InvalidRange(f"more than {RAW_MAX_ROWS} readings: ask for a shorter range or one quantity")
    return as_table(rows, RawReading, f"readings-{meter.code}", format)


@router.get("/data-completeness", response_model=Completeness, responses=ERRORS)
def data_completeness(
    session: SessionDep, principal: Reader, period: TimeRangeDep, enterprise_id: OptionalIdQuery = None
) -> Completeness:
    """Readings received ÷ expected per meter and local day (≥ 90 % is the online-monitoring
    rule), and per enterprise; at most 31 days. An enterprise sees only its own meters."""
    only = visible_enterprise(principal, enterprise_id)
    if only is not None:
        queries.enterprise(session, principal.park, only)
    if (period.end - period.start).days > MAX_DAYS:
        raise InvalidRange(f"at most {MAX_DAYS} days per request")
    park = queries.park(session, principal.park)
    return completeness(session, park.id, park.timezone, period.start, period.end, only)
