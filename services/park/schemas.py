"""Request and response shapes of the park register."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

from services.core.models import MeterPosition, MeterRole
from services.core.params import IsoDate
from services.core.quantities import QUANTITIES, Carrier
from services.core.uscc import InvalidUSCC, validate_uscc

# accuracy classes of GB/T 17215 (electricity), GB/T 6968 (gas) and GB/T 32224 (heat) meters
AccuracyClass = Literal["0.2S", "0.5S", "0.2", "0.5", "1", "1.5", "2", "3", "A", "B", "C", "D"]


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


# ---- the register (operators): create, update, read, retire -------------------------------

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")]
# printable text: no control characters (they break exports and mean nothing in a name)
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
RefId = Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]
VoltageKv = Annotated[StrictFloat, Field(gt=0, le=1000, description="kV")]
# a register's dates: the project's time range (services/core/params.py)
RegisterDate = Annotated[IsoDate, Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    retired_at: datetime | None


class RoofsIn(_In):
    """Rooftop PV and demand response, of an enterprise or of the park's own buildings (the
    seed's §5.5 benchmarks; services/carbon/indicators.py)."""

    roof_area_usable_m2: StrictFloat | None = Field(
        default=None, ge=0, le=1e8, description="可利用建筑屋顶面积 (m²)"
    )
    roof_pv_area_m2: StrictFloat | None = Field(
        default=None, ge=0, le=1e8, description="其中已建光伏的屋顶面积 (m²), at most the usable area"
    )
    demand_response_kw: StrictFloat | None = Field(
        default=None, ge=0, le=1e7, description="电力需求响应能力 (kW): load it can shed on request"
    )


class RoofsOut(BaseModel):
    roof_area_usable_m2: float | None
    roof_pv_area_m2: float | None
    demand_response_kw: float | None


class EnterpriseCreate(RoofsIn):
    name: Name
    uscc: str = Field(
        min_length=18, max_length=18, description="统一社会信用代码 (GB 32100-2015, check character verified)"
    )
    industry: str = Field(min_length=1, max_length=100, pattern=PRINTABLE)
    above_scale: StrictBool = Field(default=False, description="规模以上工业企业")
    joined_on: RegisterDate | None = Field(default=None, description="入园日期; default today")

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str) -> str:
        try:
            return validate_uscc(value)
        except InvalidUSCC as exc:
            raise ValueError(str(exc)) from None


class EnterpriseUpdate(RoofsIn):
    name: Name | None = None
    industry: str | None = Field(default=None, min_length=1, max_length=100, pattern=PRINTABLE)
    above_scale: StrictBool | None = None
    joined_on: RegisterDate | None = None


class EnterpriseRecord(RoofsOut, _Out):
    name: str
    uscc: str
    industry: str
    above_scale: bool
    joined_on: date | None


class SiteCreate(_In):
    enterprise_id: RefId
    code: Code
    name: Name


class SiteUpdate(_In):
    name: Name | None = None


class SiteRecord(_Out):
    enterprise_id: int
    code: str
    name: str


class SubstationCreate(_In):
    code: Code
    name: Name
    voltage_kv: VoltageKv


class SubstationUpdate(_In):
    name: Name | None = None
    voltage_kv: VoltageKv | None = None


class SubstationRecord(_Out):
    code: str
    name: str
    voltage_kv: float


class BusCreate(_In):
    substation_id: RefId
    code: Code
    name: Name
    voltage_kv: VoltageKv


class BusUpdate(_In):
    name: Name | None = None
    voltage_kv: VoltageKv | None = None


class BusRecord(_Out):
    substation_id: int
    code: str
    name: str
    voltage_kv: float


class LineCreate(_In):
    code: Code
    from_bus_id: RefId
    to_bus_id: RefId
    meter_id: RefId | None = Field(
        default=None, description="the meter measuring its flow (import = from → to)"
    )


class LineUpdate(_In):
    from_bus_id: RefId | None = None
    to_bus_id: RefId | None = None
    meter_id: RefId | None = None


class LineRecord(_Out):
    code: str
    from_bus_id: int
    to_bus_id: int
    meter_id: int | None


class GatewayCreate(_In):
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    name: Name


class GatewayUpdate(_In):
    name: Name | None = None


class GatewayRecord(_Out):
    code: str
    name: str
    last_seen_at: datetime | None


class MeterDetails(_In):
    """What the register adds to a meter beyond what ingest needs."""

    bus_id: RefId | None = None
    parent_meter_id: RefId | None = None
    site_id: RefId | None = None
    storage_capacity_kwh: StrictFloat | None = Field(default=None, gt=0, le=1e9)
    accuracy_class: AccuracyClass | None = Field(default=None, description="as marked: 0.2S, 0.5S, 1, 2 …")
    calibration_valid_until: RegisterDate | None = Field(default=None, description="检定有效期至")
    serial_no: str | None = Field(default=None, min_length=1, max_length=64, pattern=PRINTABLE)


class MeterCreate(MeterIn, MeterDetails):
    pass


class MeterUpdate(MeterDetails):
    name: Name | None = None
    enterprise_id: RefId | None = None
    gateway: str | None = Field(default=None, max_length=64)
    ct_ratio: StrictFloat | None = Field(default=None, gt=0, le=1e6)
    pt_ratio: StrictFloat | None = Field(default=None, gt=0, le=1e6)
    green_supply: StrictBool | None = None
    certificates_sold: StrictBool | None = None
    position: MeterPosition | None = None
    register_max: StrictFloat | None = Field(default=None, gt=0, le=1e15)
    rated_max_per_hour: StrictFloat | None = Field(default=None, gt=0, le=1e9)


class MeterRecord(_Out):
    code: str
    name: str
    carrier: str
    role: str
    quantities: list[str]
    enterprise_id: int | None
    site_id: int | None
    bus_id: int | None
    parent_meter_id: int | None
    gateway_id: int | None
    ct_ratio: float
    pt_ratio: float
    green_supply: bool
    certificates_sold: bool
    position: str
    register_max: float | None
    rated_max_per_hour: float | None
    storage_capacity_kwh: float | None
    accuracy_class: str | None
    calibration_valid_until: date | None
    serial_no: str | None
    active: bool


class ReplacementIn(_In):
    """A meter swapped in the field, with both registers (and both serial numbers)."""

    quantity: QuantityCode
    replaced_at: AwareDatetime
    old_final_value: StrictFloat = Field(ge=0, le=1e15, description="the old meter's last register value")
    new_initial_value: StrictFloat = Field(ge=0, le=1e15, description="the new meter's first register value")
    old_serial_no: str | None = Field(default=None, max_length=64)
    new_serial_no: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=1000)


class ReplacementRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    meter_id: int
    quantity: str
    replaced_at: datetime
    old_final_value: float
    new_initial_value: float
    old_serial_no: str | None
    new_serial_no: str | None
    note: str | None


class ParkUpdate(RoofsIn):
    """Only the fields given change; none of them can be emptied."""

    name: Name | None = None
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    grid_factor_region: str | None = Field(default=None, min_length=1, max_length=32)
    estimation_policy: Literal["none", "linear"] | None = None
    estimation_max_gap_hours: StrictInt | None = Field(default=None, ge=1, le=168)


class ParkCreate(_In):
    code: Code
    name: Name
    timezone: str = Field(default="Asia/Shanghai", min_length=1, max_length=64)
    grid_factor_region: str = Field(default="national", min_length=1, max_length=32)


class ParkRecord(RoofsOut, _Out):
    code: str
    name: str
    timezone: str
    grid_factor_region: str
    estimation_policy: str
    estimation_max_gap_hours: int
