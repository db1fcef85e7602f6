"""Response and request shapes of /api/v1."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.carbon.indicators import Indicators, ScoreLine


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    uscc: str
    industry: str
    above_scale: bool


class EnterpriseCoverage(EnterpriseOut):
    covered: bool
    reason: str | None = None
    last_reading_at: datetime | None = None


class MeterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    carrier: str
    role: str
    quantities: list[str]
    ct_ratio: float
    pt_ratio: float
    enterprise_id: int | None
    bus_id: int | None
    parent_meter_id: int | None
    green_supply: bool
    active: bool


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


class FactorRecord(BaseModel):
    """Shaped like the Carbon Aware SDK's emissions records: {location, time, duration, value}."""

    location: str
    time: datetime
    duration: int  # minutes
    value: float | None  # kgCO2/kWh


class TelemetryResult(BaseModel):
    accepted: int
    stored: int
    rejected: list[dict[str, str | None]]


class ScorecardOut(BaseModel):
    """Zero-carbon park indicators over [start, end) and the scorecard judged on them; the
    shapes are the engine's own (services/carbon/indicators.py)."""

    indicators: Indicators
    scorecard: list[ScoreLine]


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
    ]
    tier: int = Field(ge=1, le=3)
    comparator: Literal["<=", ">=", "<", ">"]
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=32)
    annual_tce_min: float | None = Field(default=None, ge=0)
    annual_tce_max: float | None = Field(default=None, gt=0)
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
