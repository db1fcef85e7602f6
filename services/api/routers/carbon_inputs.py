"""What enterprises and operators feed the carbon engine besides telemetry: verified fuel
parameters and green certificates (an enterprise for itself, operators for any), and the
park's gap estimation policy (operators). A change to past hours re-opens them, so the
next hourly run recomputes them (services/carbon/late_data.py)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.api import queries
from services.api.deps import CurrentPrincipal, OperatorPrincipal, SessionDep
from services.api.errors import Forbidden, NotAuthenticated, NotFound, responses
from services.api.routers.enterprises import visible_enterprise
from services.carbon import inputs

router = APIRouter(prefix="/api/v1", tags=["carbon inputs"])


class Validity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    valid_from: AwareDatetime
    valid_to: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class FuelParameterIn(Validity):
    """Natural gas parameters from the enterprise's verified emission report (GB/T 32150)."""

    fuel: Literal["natural_gas"] = "natural_gas"
    ncv_gj_per_10k_nm3: float = Field(gt=0, le=1000, description="低位发热量, GJ/10⁴Nm³ (default 389.31)")
    carbon_content_tc_per_gj: float = Field(
        gt=0, lt=0.1, description="单位热值含碳量, tC/GJ (default 0.01532)"
    )
    oxidation_rate: float = Field(gt=0, le=1, description="碳氧化率 (default 0.99)")
    source: str = Field(
        min_length=1, max_length=500, description="verified report, e.g. 2025年度核查报告 编号"
    )


class FuelParameterOut(FuelParameterIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int


class GreenCertificateIn(Validity):
    """绿证 (GEC) or a 绿电交易 contract: kWh whose environmental attribute the holder owns."""

    kind: Literal["gec", "green_power_contract"]
    reference: str = Field(min_length=1, max_length=200, description="certificate or contract number")
    kwh: float = Field(gt=0, le=1e10)


class GreenCertificateOut(GreenCertificateIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int | None


class EstimationPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: Literal["none", "linear"]
    max_gap_hours: int = Field(default=24, ge=1, le=168)


class EstimationPolicyOut(EstimationPolicyIn):
    pass


def _enterprise_of_request(session: SessionDep, principal: CurrentPrincipal, enterprise_id: int) -> int:
    visible_enterprise(principal, enterprise_id)
    return queries.enterprise(session, principal.park_id, enterprise_id).id


@router.post(
    "/enterprises/{enterprise_id}/fuel-parameters",
    response_model=FuelParameterOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(NotAuthenticated, Forbidden, NotFound),
)
def add_fuel_parameter(
    enterprise_id: int, body: FuelParameterIn, session: SessionDep, principal: CurrentPrincipal
) -> FuelParameterOut:
    """Record verified fuel parameters; scope 1 of the hours they cover is recomputed."""
    owner = _enterprise_of_request(session, principal, enterprise_id)
    return FuelParameterOut.model_validate(inputs.add_fuel_parameter(session, owner, body.model_dump()))


@router.get(
    "/enterprises/{enterprise_id}/fuel-parameters",
    response_model=list[FuelParameterOut],
    responses=responses(NotAuthenticated, Forbidden, NotFound),
)
def list_fuel_parameters(
    enterprise_id: int, session: SessionDep, principal: CurrentPrincipal
) -> list[FuelParameterOut]:
    owner = _enterprise_of_request(session, principal, enterprise_id)
    return [FuelParameterOut.model_validate(r) for r in inputs.fuel_parameters(session, owner)]


@router.post(
    "/enterprises/{enterprise_id}/green-certificates",
    response_model=GreenCertificateOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(NotAuthenticated, Forbidden, NotFound),
)
def add_green_certificate(
    enterprise_id: int, body: GreenCertificateIn, session: SessionDep, principal: CurrentPrincipal
) -> GreenCertificateOut:
    """Record a green certificate or contract; market-based scope 2 of its hours is recomputed."""
    owner = _enterprise_of_request(session, principal, enterprise_id)
    record = inputs.add_green_certificate(session, principal.park_id, owner, body.model_dump())
    return GreenCertificateOut.model_validate(record)


@router.get(
    "/enterprises/{enterprise_id}/green-certificates",
    response_model=list[GreenCertificateOut],
    responses=responses(NotAuthenticated, Forbidden, NotFound),
)
def list_green_certificates(
    enterprise_id: int, session: SessionDep, principal: CurrentPrincipal
) -> list[GreenCertificateOut]:
    owner = _enterprise_of_request(session, principal, enterprise_id)
    return [GreenCertificateOut.model_validate(r) for r in inputs.green_certificates(session, owner)]


@router.put(
    "/park/estimation-policy",
    response_model=EstimationPolicyOut,
    responses=responses(NotAuthenticated, Forbidden),
)
def set_estimation_policy(
    body: EstimationPolicyIn, session: SessionDep, principal: OperatorPrincipal
) -> EstimationPolicyOut:
    """Switch gap estimation (docs/carbon-method.md §1). The hourly job fills gaps up to
    ``max_gap_hours`` back from then on; older hours with `parkcarbon carbon recompute`."""
    park = inputs.set_estimation_policy(session, principal.park_id, body.policy, body.max_gap_hours)
    return EstimationPolicyOut(policy=park.estimation_policy, max_gap_hours=park.estimation_max_gap_hours)
