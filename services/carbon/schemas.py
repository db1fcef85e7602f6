"""Response and request shapes of the carbon engine's read side and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator

from services.carbon.factors import REPORTED_FUELS
from services.carbon.indicators import ComparisonLine, Indicators, ScoreLine
from services.carbon.trajectory import Trajectory
from services.core.params import EARLIEST, LATEST
from services.park.schemas import EnterpriseOut


class EnterpriseCoverage(EnterpriseOut):
    covered: bool
    reason: str | None = None
    last_reading_at: datetime | None = None


class HourlyFactor(BaseModel):
    hour_start: datetime
    factor_kg_per_kwh: float | None


class CoverageOut(BaseModel):
    hour_start: datetime | None
    enterprises_total: int
    enterprises_covered: int
    coverage_ratio: float | None
    energy_weighted_ratio: float | None
    target: float
    meets_target: bool
    uncovered: list[EnterpriseCoverage]


class HourlyEmission(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    hour_start: datetime
    electricity_kwh: float
    gas_m3: float
    heat_gj: float
    scope1_kg: float
    scope2_kg: float
    energy_tce: float  # GB/T 2589 当量值
    energy_tce_equivalent: float  # GB/T 2589 等价值
    scope2_market_kg: float  # 绿证/绿电 at 0, the rest at the residual-mix factor
    green_kwh: float
    non_fossil_kwh: float


class ParkOverview(BaseModel):
    code: str
    name: str
    grid_factor_region: str
    grid_factor_year: int
    current_load_kw: float | None
    latest_hour: datetime | None
    latest_factor_kg_per_kwh: float | None
    last_24h_electricity_kwh: float
    last_24h_emissions_kg: float
    coverage: CoverageOut
    enterprises: list[EnterpriseCoverage]
    carbon_factors: list[HourlyFactor]


class HourlyBalance(BaseModel):
    """One hour's carbon balance of the park, kgCO2 (services/carbon/balance.py): carbon in
    = enterprises + public + exports + storage change; ``residual_kg`` is 0 when conserved."""

    hour_start: datetime
    factor_kg_per_kwh: float | None
    carbon_in_kg: float
    enterprises_kg: float
    public_kg: float
    export_kg: float
    storage_change_kg: float
    residual_kg: float | None  # None: not computed (hours before the balance existed)
    grid_factor_kg_per_kwh: float | None
    grid_factor_rung: str | None  # hourly_feed | provincial | regional | national
    grid_factor_source: str | None
    grid_factor_verified: bool | None  # False: seen only in secondary sources


class BalanceOut(BaseModel):
    hours: list[HourlyBalance]
    unbalanced_hours: int
    total_residual_kg: float
    largest_residual_kg: float


class GreenMatchingOut(BaseModel):
    """Green certificates against purchased electricity over the period, kWh and kgCO2
    (services/carbon/certificates.py): annual matching (the default) and hourly matching,
    the 24/7 score, and market-based scope 2 under each."""

    model_config = ConfigDict(from_attributes=True)
    enterprise_id: int | None  # None: the park
    imported_kwh: float
    certificates_kwh: float
    matched_annual_kwh: float
    matched_hourly_kwh: float
    hourly_score: float | None
    market_kg_annual: float
    market_kg_hourly: float


class FactorEntry(BaseModel):
    """One row of the factor data files (services/carbon/data/), with its source."""

    name: str  # "average/national/2023", "fuel/diesel", "coefficient/heat_kg_per_gj"
    value: float
    unit: str
    source: str
    published: str | None
    verified: bool


class FactorCatalogue(BaseModel):
    data_version: str
    factors: list[FactorEntry]


class EmissionVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: datetime
    reason: str
    data_version: str
    hours: int
    report: list[dict[str, str | float | int | None]]


class FactorRecord(BaseModel):
    """Shaped like the Carbon Aware SDK's emissions records: {location, time, duration, value}."""

    location: str
    time: datetime
    duration: int  # minutes
    value: float | None  # kgCO2/kWh


class ScorecardOut(BaseModel):
    """Zero-carbon park indicators over [start, end) and the scorecard judged on them; the
    shapes are the engine's own (services/carbon/indicators.py)."""

    indicators: Indicators
    scorecard: list[ScoreLine]


class EnterpriseIndicatorsOut(BaseModel):
    comparison: list[ComparisonLine]  # the enterprise against its park over the period
    trajectory: Trajectory  # its 单位能耗碳排放 per year since the 2025 base year


class ThresholdIn(BaseModel):
    """A park's own scorecard line; replaces the default for the same indicator and tier."""

    model_config = ConfigDict(extra="forbid")
    indicator: Literal[
        "carbon_per_energy",
        "clean_energy_share",
        "non_fossil_share",
        "enterprise_coverage",
        "enterprise_coverage_energy",
        "storage_ratio",
        "rooftop_pv_coverage",
        "demand_response_ratio",
    ]
    tier: StrictInt = Field(ge=1, le=3)
    comparator: Literal["<=", ">=", "<", ">"]
    value: StrictFloat = Field(allow_inf_nan=False, ge=-1e12, le=1e12)
    unit: str = Field(min_length=1, max_length=32)
    annual_tce_min: StrictFloat | None = Field(default=None, ge=0, le=1e12)
    annual_tce_max: StrictFloat | None = Field(default=None, gt=0, le=1e12)
    source: str = Field(min_length=1, max_length=500)


class MeterEmission(BaseModel):
    """One meter's hour: energy (kWh net, m³ or GJ), its data quality, the factor applied
    (kgCO2 per unit: the bus or park 电碳因子, the gas or heat factor) and the emissions."""

    hour_start: datetime
    value: float
    quality: str
    factor: float
    scope1_kg: float
    scope2_kg: float


class Validity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    valid_from: AwareDatetime
    valid_to: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if not EARLIEST <= self.valid_from < self.valid_to <= LATEST:
            raise ValueError("need 2000-01-01 ≤ valid_from < valid_to ≤ 2100-01-01")
        return self


class FuelParameterIn(Validity):
    """Natural gas parameters from the enterprise's verified emission report (GB/T 32150)."""

    fuel: Literal["natural_gas"] = "natural_gas"
    ncv_gj_per_10k_nm3: StrictFloat = Field(
        gt=0, le=1000, description="低位发热量, GJ/10⁴Nm³ (default 389.31)"
    )
    carbon_content_tc_per_gj: StrictFloat = Field(
        gt=0, lt=0.1, description="单位热值含碳量, tC/GJ (default 0.0153, GB/T 32150-2015 表B.1)"
    )
    oxidation_rate: StrictFloat = Field(gt=0, le=1, description="碳氧化率 (default 0.99)")
    source: str = Field(
        min_length=1, max_length=500, description="verified report, e.g. 2025年度核查报告 编号"
    )


class FuelParameterOut(FuelParameterIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int


# Fuels an enterprise reports by mass: the rows of services/carbon/data/fuels.csv in tonnes
# (checked against the file at import, so the OpenAPI enum and the data agree).
FuelCode = Literal[
    "anthracite", "bituminous_coal", "lignite", "washed_coal", "fuel_oil", "diesel", "gasoline", "lpg"
]
assert set(get_args(FuelCode)) == set(REPORTED_FUELS), "fuels.csv and FuelCode disagree"


class FuelUseIn(Validity):
    """Fuel burnt over [valid_from, valid_to), with verified parameters where the enterprise
    has them (all three, or none: the GB/T 32150-2015 表B.1 defaults of the fuel)."""

    fuel: FuelCode
    amount_t: StrictFloat = Field(gt=0, le=1e7, description="消耗量, t")
    reference: str = Field(min_length=1, max_length=200, description="invoice, delivery note or ledger entry")
    ncv_gj_per_t: StrictFloat | None = Field(default=None, gt=0, le=100, description="低位发热量, GJ/t")
    carbon_content_tc_per_gj: StrictFloat | None = Field(default=None, gt=0, lt=0.1, description="tC/GJ")
    oxidation_rate: StrictFloat | None = Field(default=None, gt=0, le=1, description="碳氧化率")
    source: str | None = Field(default=None, min_length=1, max_length=500, description="verified report")

    @model_validator(mode="after")
    def _all_or_none_verified(self) -> FuelUseIn:
        given = [
            v is not None for v in (self.ncv_gj_per_t, self.carbon_content_tc_per_gj, self.oxidation_rate)
        ]
        if any(given) and not (all(given) and self.source):
            raise ValueError(
                "verified parameters come together: ncv_gj_per_t, carbon_content_tc_per_gj, "
                "oxidation_rate and their source"
            )
        return self


class FuelUseOut(FuelUseIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int


class GreenCertificateIn(Validity):
    """绿证 (GEC) or a 绿电交易 contract: kWh whose environmental attribute the holder owns."""

    kind: Literal["gec", "green_power_contract"]
    reference: str = Field(min_length=1, max_length=200, description="certificate or contract number")
    kwh: StrictFloat = Field(gt=0, le=1e10)
    bundled_meter_id: StrictInt | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="the green line (绿电专线) whose own electricity this certificate comes with: "
        "its kWh are already at zero, so the certificate adds none",
    )


class GreenCertificateOut(GreenCertificateIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enterprise_id: int | None


class EstimationPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: Literal["none", "linear"]
    max_gap_hours: StrictInt = Field(default=24, ge=1, le=168)


class EstimationPolicyOut(EstimationPolicyIn):
    pass
