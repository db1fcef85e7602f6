"""What enterprises and operators feed the carbon engine besides telemetry: verified fuel
parameters and green certificates (an enterprise for itself, operators for any), and the
park's gap estimation policy (operators). A change to past hours re-opens them, so the
next hourly run recomputes them (services/carbon/late_data.py)."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.access.dependencies import ParkWriter, ReadableEnterprise, ReportableEnterprise, Reporter
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.carbon import inputs
from services.carbon.schemas import (
    EstimationPolicyIn,
    EstimationPolicyOut,
    FuelParameterIn,
    FuelParameterOut,
    FuelUseIn,
    FuelUseOut,
    GreenCertificateIn,
    GreenCertificateOut,
)
from services.core.db import SessionDep
from services.core.errors import Conflict, Forbidden, NotAuthenticated, NotFound, responses

router = APIRouter(
    prefix="/api/v1", tags=["carbon inputs"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)
ERRORS = responses(NotAuthenticated, Forbidden, NotFound)


@router.post(
    "/enterprises/{enterprise_id}/fuel-parameters",
    response_model=FuelParameterOut,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
def add_fuel_parameter(
    owner: ReportableEnterprise, body: FuelParameterIn, session: SessionDep, principal: Reporter
) -> FuelParameterOut:
    """Record verified fuel parameters; scope 1 of the hours they cover is recomputed."""
    record = inputs.add_fuel_parameter(session, principal, owner, body.model_dump())
    return FuelParameterOut.model_validate(record)


@router.get(
    "/enterprises/{enterprise_id}/fuel-parameters", response_model=list[FuelParameterOut], responses=ERRORS
)
def list_fuel_parameters(owner: ReadableEnterprise, session: SessionDep) -> list[FuelParameterOut]:
    return [FuelParameterOut.model_validate(r) for r in inputs.fuel_parameters(session, owner)]


@router.post(
    "/enterprises/{enterprise_id}/fuel-uses",
    response_model=FuelUseOut,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
def add_fuel_use(
    owner: ReportableEnterprise, body: FuelUseIn, session: SessionDep, principal: Reporter
) -> FuelUseOut:
    """Report coal, oil products or LPG burnt over a period (scope 1, GB/T 32150); the hours
    it covers are recomputed."""
    record = inputs.add_fuel_use(session, principal, principal.park, owner, body.model_dump())
    return FuelUseOut.model_validate(record)


@router.get("/enterprises/{enterprise_id}/fuel-uses", response_model=list[FuelUseOut], responses=ERRORS)
def list_fuel_uses(owner: ReadableEnterprise, session: SessionDep) -> list[FuelUseOut]:
    return [FuelUseOut.model_validate(r) for r in inputs.fuel_uses(session, owner)]


@router.post(
    "/enterprises/{enterprise_id}/green-certificates",
    response_model=GreenCertificateOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(NotAuthenticated, Forbidden, NotFound, Conflict),
)
def add_green_certificate(
    owner: ReportableEnterprise, body: GreenCertificateIn, session: SessionDep, principal: Reporter
) -> GreenCertificateOut:
    """Record a green certificate or contract; market-based scope 2 of its hours is recomputed."""
    record = inputs.add_green_certificate(session, principal, owner, body.model_dump())
    return GreenCertificateOut.model_validate(record)


@router.get(
    "/enterprises/{enterprise_id}/green-certificates",
    response_model=list[GreenCertificateOut],
    responses=ERRORS,
)
def list_green_certificates(owner: ReadableEnterprise, session: SessionDep) -> list[GreenCertificateOut]:
    return [GreenCertificateOut.model_validate(r) for r in inputs.green_certificates(session, owner)]


@router.put(
    "/park/estimation-policy",
    response_model=EstimationPolicyOut,
    responses=responses(NotAuthenticated, Forbidden),
)
def set_estimation_policy(
    body: EstimationPolicyIn, session: SessionDep, principal: ParkWriter
) -> EstimationPolicyOut:
    """Switch gap estimation (docs/carbon-method.md §1). The hourly job fills gaps up to
    ``max_gap_hours`` back from then on; older hours with `parkcarbon carbon recompute`."""
    park = inputs.set_estimation_policy(session, principal, body.policy, body.max_gap_hours)
    return EstimationPolicyOut(policy=park.estimation_policy, max_gap_hours=park.estimation_max_gap_hours)
