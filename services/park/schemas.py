"""Request and response shapes of the park register."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from services.core.models import MeterPosition, MeterRole
from services.core.quantities import QUANTITIES, Carrier


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    uscc: str
    industry: str
    above_scale: bool


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
    position: str
    certificates_sold: bool


# The closed vocabulary as an enum in the OpenAPI document (services/core/quantities.py).
QuantityCode = Literal[
    "energy_import_kwh",
    "energy_export_kwh",
    "generation_kwh",
    "storage_charge_kwh",
    "storage_discharge_kwh",
    "power_kw",
    "voltage_v",
    "current_a",
    "power_factor",
    "state_of_charge_pct",
    "volume_m3",
    "flow_m3_h",
    "heat_gj",
    "volume_t",
]


class MeterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(min_length=1, max_length=200)
    carrier: Carrier
    role: MeterRole
    quantities: list[QuantityCode] = Field(min_length=1, max_length=len(QUANTITIES))
    enterprise_id: StrictInt | None = Field(default=None, ge=1, le=2_147_483_647)
    gateway: str | None = Field(default=None, max_length=64)  # code of the gateway that reads it
    ct_ratio: StrictFloat = Field(default=1.0, gt=0, le=1e6)
    pt_ratio: StrictFloat = Field(default=1.0, gt=0, le=1e6)
    green_supply: StrictBool = False
    certificates_sold: StrictBool = Field(
        default=False,
        description="PV or wind whose green certificates were sold: not zero-carbon in the market-based view",
    )
    position: MeterPosition | None = Field(
        default=None,
        description="boundary | park_network | behind_meter (an enterprise's own PV, CHP or "
        "battery); inferred from role and parent when not given",
    )
    register_max: StrictFloat | None = Field(default=None, gt=0, le=1e15)
    rated_max_per_hour: StrictFloat | None = Field(default=None, gt=0, le=1e9)
    value_limits: dict[QuantityCode, tuple[StrictFloat, StrictFloat]] | None = Field(
        default=None,
        max_length=len(QUANTITIES),
        description="the meter's own plausible [min, max] per quantity, inside the quantity's bounds",
    )

    @field_validator("value_limits")
    @classmethod
    def _limits_inside_bounds(
        cls, value: dict[str, tuple[float, float]] | None
    ) -> dict[str, tuple[float, float]] | None:
        for quantity, (lo, hi) in (value or {}).items():
            known = QUANTITIES.get(quantity)
            if known is None:
                raise ValueError(f"unknown quantity {quantity[:32]!r}")
            if not known.minimum <= lo < hi <= known.maximum:
                raise ValueError(f"{quantity}: need {known.minimum:g} ≤ min < max ≤ {known.maximum:g}")
        return value

    @field_validator("quantities")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(QUANTITIES))
        if unknown:
            raise ValueError(f"unknown quantities {unknown}")
        return sorted(set(value))
