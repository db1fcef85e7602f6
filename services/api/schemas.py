"""Response and request shapes of /api/v1."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
