"""The park register: parks, enterprises, substations, buses, lines, gateways, meters.

Timestamps are timezone-aware and stored in UTC."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.core.models.base import Base, pg_enum
from services.core.quantities import Carrier


class MeterRole(enum.StrEnum):
    """What a meter measures in the park's energy balance."""

    GRID_IMPORT = "grid_import"  # 关口表: park boundary with the public grid
    FEEDER = "feeder"  # 馈线表: a line between two buses inside the park
    ENTERPRISE_MAIN = "enterprise_main"  # 企业总表
    SUBMETER = "submeter"  # 分项/分户表 below a main meter
    PV = "pv"  # 屋顶光伏
    WIND = "wind"  # 分散式风电
    CHP = "chp"  # 燃气热电联产/自备发电机组: its fuel meters name it as parent
    STORAGE = "storage"  # 储能
    GAS = "gas"  # 天然气表
    HEAT = "heat"  # 热/蒸汽表


class MeterPosition(enum.StrEnum):
    """Where a meter sits relative to the park's boundary and its enterprises' meters. Set
    per meter (inferred at registration, changeable) so the engine never guesses it from the
    wiring: a CHP fed through a boundary gas meter, or an enterprise's rooftop PV, would
    otherwise be counted twice or enter the park's mix (docs/carbon-method.md §5)."""

    BOUNDARY = "boundary"  # 关口: energy crossing the park boundary (grid, gas, heat bought)
    PARK_NETWORK = "park_network"  # on the park's own network: feeders, park PV, batteries
    BEHIND_METER = "behind_meter"  # behind an enterprise's main meter (its own PV, CHP, battery)


def infer_position(role: str, parent_role: str | None) -> MeterPosition:
    """The position a meter most likely has, from its role and its parent's role."""
    if role == MeterRole.GRID_IMPORT:
        return MeterPosition.BOUNDARY
    if role == MeterRole.GAS:
        # a fuel meter naming a CHP unit feeds it from outside unless set otherwise
        return MeterPosition.BOUNDARY if parent_role in (None, MeterRole.CHP) else MeterPosition.PARK_NETWORK
    if role == MeterRole.HEAT:
        # heat bought from outside, unless it is a CHP unit's output (made inside)
        return MeterPosition.BOUNDARY if parent_role is None else MeterPosition.PARK_NETWORK
    if parent_role in (MeterRole.ENTERPRISE_MAIN, MeterRole.SUBMETER) or role == MeterRole.SUBMETER:
        return MeterPosition.BEHIND_METER
    return MeterPosition.PARK_NETWORK


def _position_default(context: DefaultExecutionContext) -> str:
    """Column default of ``meter.position``: ``infer_position`` on the row being inserted."""
    row = context.get_current_parameters()
    parent_id = row.get("parent_meter_id")
    parent_role = None
    if parent_id is not None:
        parent_role = context.connection.execute(
            text("SELECT role::text FROM meter WHERE id = :id"), {"id": parent_id}
        ).scalar_one_or_none()
    return infer_position(str(row["role"]), parent_role).value


class RoofsAndDemandResponse:
    """Rooftop PV and demand response of the park's own buildings or an enterprise's (seed
    §5.5 benchmarks; migration 0018): the usable roof area, the part of it under PV, and the
    load it can shed on request."""

    roof_area_usable_m2: Mapped[float | None] = mapped_column(Double)
    roof_pv_area_m2: Mapped[float | None] = mapped_column(Double)
    demand_response_kw: Mapped[float | None] = mapped_column(Double)


def roofs_check() -> CheckConstraint:
    return CheckConstraint(
        "roof_area_usable_m2 >= 0 AND roof_pv_area_m2 >= 0 AND demand_response_kw >= 0 "
        "AND roof_pv_area_m2 <= roof_area_usable_m2",
        name="roofs_and_demand_response",
    )


class Park(RoofsAndDemandResponse, Base):
    __tablename__ = "park"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # IANA zone of the park's clocks: dashboard times and local days. Hours are whole hours in
    # UTC, which holds for every whole-hour offset (China: UTC+8, no daylight saving).
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Grid factor used for imports (location-based): a key into services.carbon.factors.
    grid_factor_region: Mapped[str] = mapped_column(String(32), default="national")
    grid_factor_year: Mapped[int] = mapped_column(SmallInteger, default=2023)
    # Gap filling is off unless an operator switches it on ("linear": a register increase
    # across a gap of up to ``estimation_max_gap_hours`` is spread evenly and flagged
    # ``estimated``); see services/carbon/interval_energy.py.
    estimation_policy: Mapped[str] = mapped_column(String(32), default="none", server_default="none")
    estimation_max_gap_hours: Mapped[int] = mapped_column(SmallInteger, default=24, server_default="24")
    # 合同最大需量 / contracted capacity at the grid connection (kW): the park-load rule's limit
    contracted_demand_kw: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    enterprises: Mapped[list[Enterprise]] = relationship(back_populates="park")
    __table_args__ = (roofs_check(),)


class Enterprise(RoofsAndDemandResponse, Base):
    __tablename__ = "enterprise"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))  # 统一社会信用代码, GB 32100
    industry: Mapped[str] = mapped_column(String(100))
    above_scale: Mapped[bool] = mapped_column(Boolean, default=False)  # 规模以上工业企业
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # 入园日期: the first month it may report for (park's local calendar)
    joined_on: Mapped[date | None] = mapped_column(Date)
    # 合同最大需量 (kW): the enterprise-load rule's limit
    contracted_demand_kw: Mapped[float | None] = mapped_column(Double)
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    park: Mapped[Park] = relationship(back_populates="enterprises")
    meters: Mapped[list[Meter]] = relationship(back_populates="enterprise")
    # Unique per park: one company may have sites in two parks of a group deployment.
    __table_args__ = (
        UniqueConstraint("park_id", "uscc", name="uq_enterprise_park_uscc"),
        roofs_check(),
    )


class Substation(Base):
    __tablename__ = "substation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    voltage_kv: Mapped[float] = mapped_column(Double)
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("park_id", "code", name="uq_substation_park_code"),)


class Bus(Base):
    __tablename__ = "bus"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    substation_id: Mapped[int] = mapped_column(ForeignKey("substation.id", ondelete="CASCADE"))
    # Unique within the park: enforced by the register (a bus's park is its substation's).
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    voltage_kv: Mapped[float] = mapped_column(Double)
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("substation_id", "code", name="uq_bus_substation_code"),)


class Line(Base):
    """A branch of the park grid; its flow is measured by ``meter_id`` (import = from→to)."""

    __tablename__ = "line"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    from_bus_id: Mapped[int] = mapped_column(ForeignKey("bus.id"))
    to_bus_id: Mapped[int] = mapped_column(ForeignKey("bus.id"))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"))
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("from_bus_id <> to_bus_id", name="distinct_ends"),
        UniqueConstraint("park_id", "code", name="uq_line_park_code"),
    )


class Site(Base):
    """厂区/车间: a part of an enterprise with meters of its own."""

    __tablename__ = "site"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("park_id", "code", name="uq_site_park_code"),)


class Gateway(Base):
    __tablename__ = "gateway"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("park_id", "code", name="uq_gateway_park_code"),)


class Meter(Base):
    __tablename__ = "meter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    carrier: Mapped[Carrier] = mapped_column(pg_enum(Carrier, "energy_carrier"))
    role: Mapped[MeterRole] = mapped_column(pg_enum(MeterRole, "meter_role"))
    quantities: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Current and voltage transformer ratios; the gateway applies them (primary-side values).
    ct_ratio: Mapped[float] = mapped_column(Double, default=1.0)
    pt_ratio: Mapped[float] = mapped_column(Double, default=1.0)
    # NULL owner = the park itself (public load, substations, PV owned by the park).
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="SET NULL"), index=True
    )
    bus_id: Mapped[int | None] = mapped_column(ForeignKey("bus.id"))
    parent_meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"))
    gateway_id: Mapped[int | None] = mapped_column(ForeignKey("gateway.id"))
    green_supply: Mapped[bool] = mapped_column(Boolean, default=False)  # 绿电专线/专变
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Largest value the cumulative register shows before it wraps to zero (e.g. 99 999 999.9
    # kWh on an 8+1 digit display); NULL = the register does not roll over in its lifetime.
    register_max: Mapped[float | None] = mapped_column(Double)
    # Rated maximum demand (kW, or m³/h, GJ/h for gas and heat): an increase that needs more
    # than 1.5× this is physically impossible and flagged instead of counted.
    rated_max_per_hour: Mapped[float | None] = mapped_column(Double)
    # This meter's own plausible range per quantity, {"power_kw": [-500, 2000]}, inside the
    # quantity's bounds (services/core/quantities.py); beyond it a reading is ``out_of_range``.
    value_limits: Mapped[dict[str, list[float]] | None] = mapped_column(JSONB)
    # Usable energy capacity of a storage system (kWh), for the storage-ratio indicator.
    storage_capacity_kwh: Mapped[float | None] = mapped_column(Double)
    # A virtual meter has no register: its interval energy is Σ coefficient × source meter
    # (``VirtualMeterTerm``), e.g. an enterprise = its main meter − a tenant's sub-meter.
    virtual: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # PV or wind whose green certificates were sold: its kWh are no longer zero-carbon in the
    # market-based view (their attribute went with the certificates).
    certificates_sold: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Inferred from role and parent when not given (``infer_position``), then stored.
    position: Mapped[MeterPosition] = mapped_column(
        pg_enum(MeterPosition, "meter_position"), default=_position_default, server_default="park_network"
    )

    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    # as marked on the meter (GB/T 17215.321: 0.2S, 0.5S, 1, 2; gas and heat meters 1.5, 2)
    accuracy_class: Mapped[str | None] = mapped_column(String(8))
    # last day of the verification certificate's validity (JJG 596 for electricity meters)
    calibration_valid_until: Mapped[date | None] = mapped_column(Date)
    serial_no: Mapped[str | None] = mapped_column(String(64))
    # how often the meter is read (s): the readings a day should bring (data completeness)
    reading_interval_s: Mapped[int] = mapped_column(Integer, default=900, server_default="900")
    # retired, not deleted: readings, emissions and reports keep pointing at it
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    enterprise: Mapped[Enterprise | None] = relationship(back_populates="meters")
    # Codes are the gateway's names for its meters: unique within a park, not across parks.
    __table_args__ = (UniqueConstraint("park_id", "code", name="uq_meter_park_code"),)


class MeterReplacement(Base):
    """A meter swapped in the field: the old register's last value and the new one's first.

    Energy across the swap is (old_final − previous reading) + (next reading − new_initial),
    as a utility reads a replaced billing meter; without this record the drop would count
    as a reset.
    """

    __tablename__ = "meter_replacement"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[str] = mapped_column(String(32))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_final_value: Mapped[float] = mapped_column(Double)
    new_initial_value: Mapped[float] = mapped_column(Double)
    note: Mapped[str | None] = mapped_column(Text)
    old_serial_no: Mapped[str | None] = mapped_column(String(64))
    new_serial_no: Mapped[str | None] = mapped_column(String(64))


class VirtualMeterTerm(Base):
    """One term of a virtual meter's formula: ``coefficient`` × the source meter's energy."""

    __tablename__ = "virtual_meter_term"
    virtual_meter_id: Mapped[int] = mapped_column(
        ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True
    )
    source_meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True)
    coefficient: Mapped[float] = mapped_column(Double)
    __table_args__ = (CheckConstraint("virtual_meter_id <> source_meter_id", name="not_itself"),)


class MeterDirectoryVersion(Base):
    """One row, bumped by a statement trigger whenever meters or gateways change (migration
    0008): ingest processes compare it to the version of the directory they hold and reload
    only when it moved, so a newly registered meter is accepted at once."""

    __tablename__ = "meter_directory_version"
    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (CheckConstraint("id", name="single_row"),)
