"""Enterprises, their meters and hourly series. An enterprise token sees only itself."""

from __future__ import annotations

from fastapi import APIRouter

from services.api import queries
from services.api.deps import CurrentPrincipal, SessionDep
from services.api.errors import Forbidden, InvalidRange, NotAuthenticated, NotFound, responses
from services.api.routers.time_range import TimeRangeDep
from services.api.schemas import EnterpriseOut, HourlyEmission, MeterEmission, MeterOut
from services.carbon.emissions import meter_emissions
from services.carbon.factors import grid_factor
from services.core.models import ApiPrincipal, PrincipalRole

router = APIRouter(prefix="/api/v1", tags=["enterprises"])


def visible_enterprise(principal: ApiPrincipal, requested: int | None) -> int | None:
    """The enterprise a request may see: its own for enterprise tokens, any for operators."""
    if principal.role is PrincipalRole.ENTERPRISE:
        if requested is not None and requested != principal.enterprise_id:
            raise NotFound(f"enterprise {requested} not found")
        return principal.enterprise_id
    if principal.role is PrincipalRole.GATEWAY:
        raise Forbidden("gateway tokens may only push telemetry")
    return requested


@router.get(
    "/enterprises", response_model=list[EnterpriseOut], responses=responses(NotAuthenticated, Forbidden)
)
def list_enterprises(session: SessionDep, principal: CurrentPrincipal) -> list[EnterpriseOut]:
    only = visible_enterprise(principal, None)
    return [EnterpriseOut.model_validate(e) for e in queries.enterprises(session, principal.park_id, only)]


@router.get(
    "/enterprises/{enterprise_id}",
    response_model=EnterpriseOut,
    responses=responses(NotAuthenticated, Forbidden, NotFound),
)
def get_enterprise(enterprise_id: int, session: SessionDep, principal: CurrentPrincipal) -> EnterpriseOut:
    visible_enterprise(principal, enterprise_id)
    return EnterpriseOut.model_validate(queries.enterprise(session, principal.park_id, enterprise_id))


@router.get("/meters", response_model=list[MeterOut], responses=responses(NotAuthenticated, Forbidden))
def list_meters(
    session: SessionDep, principal: CurrentPrincipal, enterprise_id: int | None = None
) -> list[MeterOut]:
    only = visible_enterprise(principal, enterprise_id)
    return [MeterOut.model_validate(m) for m in queries.meters(session, principal.park_id, only)]


@router.get(
    "/series/hourly",
    response_model=list[HourlyEmission],
    responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidRange),
)
def hourly_series(
    session: SessionDep,
    principal: CurrentPrincipal,
    period: TimeRangeDep,
    enterprise_id: int | None = None,
) -> list[HourlyEmission]:
    """Hourly energy (kWh, m³, GJ, tce) and emissions (kgCO2, scope 1 and 2) of one
    enterprise, or of the park when no enterprise is given (operators only)."""
    only = visible_enterprise(principal, enterprise_id)
    if only is not None:
        queries.enterprise(session, principal.park_id, only)
    return queries.hourly_emissions(session, principal.park_id, only, period.start, period.end)


@router.get(
    "/meters/{meter_id}/emissions",
    response_model=list[MeterEmission],
    responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidRange),
)
def meter_emission_series(
    meter_id: int, session: SessionDep, principal: CurrentPrincipal, period: TimeRangeDep
) -> list[MeterEmission]:
    """Hourly energy and emissions of one meter, at the factor of its bus (else the park's)."""
    meter = queries.meter(session, principal.park_id, meter_id, visible_enterprise(principal, None))
    park = queries.park(session, principal.park_id)
    grid = grid_factor(park.grid_factor_region, park.grid_factor_year)
    rows = meter_emissions(session, park.id, meter.id, period.start, period.end, grid)
    return [MeterEmission.model_validate(r) for r in rows]
