"""Enterprises, their meters and hourly series. An enterprise sees only itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from services.access.dependencies import Reader
from services.access.policy import Principal, visible_enterprise
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, as_file, as_table, json_records, table_content
from services.carbon import queries as carbon_queries
from services.carbon.certificates import green_matching
from services.carbon.emissions import meter_emissions
from services.carbon.factors import grid_factor
from services.carbon.schemas import GreenMatchingOut, HourlyEmission, MeterEmission
from services.core.db import SessionDep
from services.core.errors import Forbidden, InvalidInput, InvalidRange, NotAuthenticated, NotFound, responses
from services.core.models import Enterprise, Meter, MeterRole
from services.core.pagination import Page, PageDep, paginate
from services.core.params import IdPath, OptionalIdQuery, SearchQuery, TimeRangeDep
from services.core.quantities import Carrier
from services.park import queries
from services.park.schemas import EnterpriseOut, MeterOut

router = APIRouter(
    prefix="/api/v1", tags=["enterprises"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)


@router.get(
    "/enterprises",
    response_model=Page[EnterpriseOut],
    responses={
        **table_content("the enterprises (files: every one matching, unpaged)"),
        **responses(NotAuthenticated, Forbidden, InvalidInput),
    },
)
def list_enterprises(
    session: SessionDep, principal: Reader, page: PageDep, q: SearchQuery = None, format: FormatParam = "json"
) -> Any:
    """The park's enterprises in id order, a page at a time (an enterprise: itself)."""
    query = queries.enterprise_list(principal.park, visible_enterprise(principal, None), q)
    if format != "json":
        rows = [EnterpriseOut.model_validate(e) for e in session.scalars(query.order_by(Enterprise.id))]
        return as_file(rows, EnterpriseOut, "enterprises", format)
    found, cursor = paginate(session, query, Enterprise.id, page)
    return {"items": [EnterpriseOut.model_validate(e) for e in found], "next_cursor": cursor}


@router.get(
    "/enterprises/{enterprise_id}",
    response_model=EnterpriseOut,
    responses=responses(NotAuthenticated, Forbidden, NotFound),
)
def get_enterprise(enterprise_id: IdPath, session: SessionDep, principal: Reader) -> EnterpriseOut:
    visible_enterprise(principal, enterprise_id)
    return EnterpriseOut.model_validate(queries.enterprise(session, principal.park, enterprise_id))


@router.get(
    "/meters",
    response_model=Page[MeterOut],
    responses={
        **table_content("the meters (files: every one matching, unpaged)"),
        **responses(NotAuthenticated, Forbidden, NotFound, InvalidInput),
    },
)
def list_meters(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    enterprise_id: OptionalIdQuery = None,
    carrier: Carrier | None = None,
    role: MeterRole | None = None,
    q: SearchQuery = None,
    format: FormatParam = "json",
) -> Any:
    """The park's meters in id order, a page at a time (an enterprise: its own)."""
    only = visible_enterprise(principal, enterprise_id)
    if only is not None:
        queries.enterprise(session, principal.park, only)  # another park's enterprise: 404
    query = queries.meter_list(principal.park, only, carrier, role, q)
    if format != "json":
        rows = [MeterOut.model_validate(m) for m in session.scalars(query.order_by(Meter.id))]
        return as_file(rows, MeterOut, "meters", format)
    found, cursor = paginate(session, query, Meter.id, page)
    return {"items": [MeterOut.model_validate(m) for m in found], "next_cursor": cursor}


def _readable(session: SessionDep, principal: Principal, enterprise_id: int | None) -> int | None:
    """The enterprise a series covers (None: the park), checked to be in the principal's park."""
    only = visible_enterprise(principal, enterprise_id)
    if only is not None:
        queries.enterprise(session, principal.park, only)  # another park's enterprise: 404
    return only


@router.get(
    "/green-matching",
    response_model=list[GreenMatchingOut],
    responses={
        **table_content("green certificate matching"),
        **responses(NotAuthenticated, Forbidden, NotFound, InvalidRange),
    },
)
def green_certificate_matching(
    session: SessionDep,
    principal: Reader,
    period: TimeRangeDep,
    enterprise_id: OptionalIdQuery = None,
    format: FormatParam = "json",
) -> list[GreenMatchingOut] | Response:
    """绿证/绿电 against purchased electricity over the period: matched annually (the
    default; within each calendar year) and hour by hour, the hourly matching score (24/7)
    and market-based scope 2 under each. One enterprise, or the park and all its
    enterprises (the park's readers only)."""
    only = _readable(session, principal, enterprise_id)
    rows = green_matching(session, principal.park, period.start, period.end, only)
    out = [GreenMatchingOut.model_validate(r) for r in rows]
    return as_table(out, GreenMatchingOut, "绿证匹配", format)


@router.get(
    "/series/hourly",
    response_model=list[HourlyEmission],
    responses={
        **table_content("hourly emissions"),
        **responses(NotAuthenticated, Forbidden, NotFound, InvalidRange),
    },
)
def hourly_series(
    session: SessionDep,
    principal: Reader,
    period: TimeRangeDep,
    enterprise_id: OptionalIdQuery = None,
    format: FormatParam = "json",
) -> Any:
    """Hourly energy (kWh, m³, GJ, tce) and emissions (kgCO2, scope 1 and 2) of one
    enterprise, or of the park when no enterprise is given (the park's readers only)."""
    only = _readable(session, principal, enterprise_id)
    if format == "json":
        rows = carbon_queries.hourly_emission_rows(session, principal.park, only, period.start, period.end)
        return json_records(carbon_queries.HOURLY_EMISSION_FIELDS, rows)
    models = carbon_queries.hourly_emissions(session, principal.park, only, period.start, period.end)
    return as_table(models, HourlyEmission, "emissions-hourly", format)


@router.get(
    "/meters/{meter_id}/emissions",
    response_model=list[MeterEmission],
    responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidRange),
)
def meter_emission_series(
    meter_id: IdPath, session: SessionDep, principal: Reader, period: TimeRangeDep
) -> list[MeterEmission]:
    """Hourly energy and emissions of one meter, at the factor of its bus (else the park's)."""
    meter = queries.meter(session, principal.park, meter_id, visible_enterprise(principal, None))
    park = queries.park(session, principal.park)
    grid = grid_factor(park.grid_factor_region, park.grid_factor_year)
    rows = meter_emissions(session, park.id, meter.id, period.start, period.end, grid)
    return [MeterEmission.model_validate(r) for r in rows]
