"""ORM models of the park: who is metered, how the grid is wired, and what was measured.

Timestamps are timezone-aware and stored in UTC; the park's hours are Asia/Shanghai hours,
which coincide with UTC hour boundaries (UTC+8, no daylight saving).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.core.quantities import Carrier

# Stable constraint names so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


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


class PrincipalRole(enum.StrEnum):
    OPERATOR = "operator"  # 园区能源运营人员: sees the whole park
    ENTERPRISE = "enterprise"  # 园区企业: sees only its own data
    GATEWAY = "gateway"  # 采集网关: may only push telemetry


class Park(Base):
    __tablename__ = "park"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Grid factor used for imports (location-based): a key into services.carbon.factors.
    grid_factor_region: Mapped[str] = mapped_column(String(32), default="national")
    grid_factor_year: Mapped[int] = mapped_column(SmallInteger, default=2023)
    # Gap filling is off unless an operator switches it on ("linear": a register increase
    # across a gap of up to ``estimation_max_gap_hours`` is spread evenly and flagged
    # ``estimated``); see services/carbon/interval_energy.py.
    estimation_policy: Mapped[str] = mapped_column(String(32), default="none", server_default="none")
    estimation_max_gap_hours: Mapped[int] = mapped_column(SmallInteger, default=24, server_default="24")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    enterprises: Mapped[list[Enterprise]] = relationship(back_populates="park")


class Enterprise(Base):
    __tablename__ = "enterprise"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码, GB 32100
    industry: Mapped[str] = mapped_column(String(100))
    above_scale: Mapped[bool] = mapped_column(Boolean, default=False)  # 规模以上工业企业
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    park: Mapped[Park] = relationship(back_populates="enterprises")
    meters: Mapped[list[Meter]] = relationship(back_populates="enterprise")


class Substation(Base):
    __tablename__ = "substation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    voltage_kv: Mapped[float] = mapped_column(Double)


class Bus(Base):
    __tablename__ = "bus"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    substation_id: Mapped[int] = mapped_column(ForeignKey("substation.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    voltage_kv: Mapped[float] = mapped_column(Double)


class Line(Base):
    """A branch of the park grid; its flow is measured by ``meter_id`` (import = from→to)."""

    __tablename__ = "line"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    from_bus_id: Mapped[int] = mapped_column(ForeignKey("bus.id"))
    to_bus_id: Mapped[int] = mapped_column(ForeignKey("bus.id"))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"))
    __table_args__ = (CheckConstraint("from_bus_id <> to_bus_id", name="distinct_ends"),)


class Gateway(Base):
    __tablename__ = "gateway"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Meter(Base):
    __tablename__ = "meter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    carrier: Mapped[Carrier] = mapped_column(_enum(Carrier, "energy_carrier"))
    role: Mapped[MeterRole] = mapped_column(_enum(MeterRole, "meter_role"))
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
    # Usable energy capacity of a storage system (kWh), for the storage-ratio indicator.
    storage_capacity_kwh: Mapped[float | None] = mapped_column(Double)
    # A virtual meter has no register: its interval energy is Σ coefficient × source meter
    # (``VirtualMeterTerm``), e.g. an enterprise = its main meter − a tenant's sub-meter.
    virtual: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    enterprise: Mapped[Enterprise | None] = relationship(back_populates="meters")

    @property
    def multiplier(self) -> float:
        return self.ct_ratio * self.pt_ratio


class Reading(Base):
    """One telemetry value. On TimescaleDB a hypertable on ``ts`` (see storage_policy).

    The key leads with ``ts``: readings arrive in time order, so every insert lands at the
    right edge of the index instead of in one leaf page per series, which doubles COPY
    throughput on plain PostgreSQL (see ``parkcarbon bench ingest``). Every query on this
    table is therefore bounded in time; per-meter history older than the window lives in
    ``interval_energy``.
    """

    __tablename__ = "reading"
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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


class VirtualMeterTerm(Base):
    """One term of a virtual meter's formula: ``coefficient`` × the source meter's energy."""

    __tablename__ = "virtual_meter_term"
    virtual_meter_id: Mapped[int] = mapped_column(
        ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True
    )
    source_meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True)
    coefficient: Mapped[float] = mapped_column(Double)
    __table_args__ = (CheckConstraint("virtual_meter_id <> source_meter_id", name="not_itself"),)


class QuarantinedTelemetry(Base):
    """A rejected message or reading, kept with its reason and raw payload for operators."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    source: Mapped[str] = mapped_column(String(300))  # MQTT topic or "http:<gateway>"
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    meter_code: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DataQuality(enum.StrEnum):
    OK = "ok"
    GAP = "gap"  # part of the hour not covered by readings: energy there is not invented
    RESET = "reset"  # the register went backwards: counted from zero after the drop
    ROLLOVER = "rollover"  # the register wrapped at its configured maximum
    REPLACED = "replaced"  # a recorded meter replacement inside the hour
    IMPLAUSIBLE = "implausible"  # an increase beyond the meter's rating: not counted
    ESTIMATED = "estimated"  # filled across a gap by the park's estimation policy


class IntervalEnergy(Base):
    """Energy (or volume/heat) of one meter quantity in one hour, from a cumulative register.

    Keyed time-first like ``Reading``: recomputes write whole hours at the right edge of the
    key; every query on it is bounded in time (migration 0005).
    """

    __tablename__ = "interval_energy"
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    # No foreign key on purpose: derived data, rewritten by every recompute (migration 0005).
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Compared bytewise in the key: cheaper to maintain than the locale's order (0006).
    quantity: Mapped[str] = mapped_column(String(32, collation="C"), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    covered_seconds: Mapped[float] = mapped_column(Double)
    quality: Mapped[DataQuality] = mapped_column(_enum(DataQuality, "data_quality"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CarbonFactorHourly(Base):
    """电碳因子 of the park (``bus_id`` NULL) or of one bus, for one hour, with its inputs."""

    __tablename__ = "carbon_factor_hourly"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # No foreign keys on purpose: derived data, rewritten by every recompute (migration 0007).
    park_id: Mapped[int] = mapped_column(Integer)
    bus_id: Mapped[int | None] = mapped_column(Integer)
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    factor_kg_per_kwh: Mapped[float | None] = mapped_column(Double)
    method: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, object]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        UniqueConstraint(
            "park_id",
            "bus_id",
            "hour_start",
            name="uq_carbon_factor_node_hour",
            postgresql_nulls_not_distinct=True,
        ),
    )


class EmissionHourly(Base):
    """Emissions and energy of an enterprise (or the park, ``enterprise_id`` NULL) in one hour."""

    __tablename__ = "emission_hourly"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # No foreign keys on purpose: derived data, rewritten by every recompute (migration 0005).
    park_id: Mapped[int] = mapped_column(Integer)
    enterprise_id: Mapped[int | None] = mapped_column(Integer)
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    electricity_kwh: Mapped[float] = mapped_column(Double, default=0.0)
    gas_m3: Mapped[float] = mapped_column(Double, default=0.0)
    heat_gj: Mapped[float] = mapped_column(Double, default=0.0)
    scope1_kg: Mapped[float] = mapped_column(Double, default=0.0)
    scope2_kg: Mapped[float] = mapped_column(Double, default=0.0)
    energy_tce: Mapped[float] = mapped_column(Double, default=0.0)  # GB/T 2589 当量值
    # GB/T 2589 等价值: electricity at the thermal plants' coal rate (factors.py)
    energy_tce_equivalent: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    # Market-based scope 2 (绿证/绿电交易 at zero, the rest at the residual-mix factor) and
    # the green and non-fossil electricity behind it.
    scope2_market_kg: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    green_kwh: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    non_fossil_kwh: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        UniqueConstraint(
            "park_id",
            "enterprise_id",
            "hour_start",
            name="uq_emission_entity_hour",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_emission_hourly_hour", "hour_start"),
    )

    @property
    def total_kg(self) -> float:
        return self.scope1_kg + self.scope2_kg


class CoverageHourly(Base):
    """Enterprise coverage of the platform (平台企业覆盖率) at the end of one hour."""

    __tablename__ = "coverage_hourly"
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    enterprises_total: Mapped[int] = mapped_column(Integer)
    enterprises_covered: Mapped[int] = mapped_column(Integer)
    coverage_ratio: Mapped[float] = mapped_column(Double)
    energy_weighted_ratio: Mapped[float | None] = mapped_column(Double)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GreenCertificate(Base):
    """Green electricity an enterprise (or the park, ``enterprise_id`` NULL) holds the
    attribute of: 绿证 (GEC, 发改能源〔2023〕1044号) or a 绿电交易 contract, ``kwh`` over
    [valid_from, valid_to). Counted at zero in market-based scope 2."""

    __tablename__ = "green_certificate"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # "gec" | "green_power_contract"
    reference: Mapped[str] = mapped_column(String(200))  # certificate or contract number
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kwh: Mapped[float] = mapped_column(Double)


class FuelParameter(Base):
    """An enterprise's verified natural-gas parameters (from its verified emission report),
    overriding the GB/T 32150 defaults over [valid_from, valid_to)."""

    __tablename__ = "fuel_parameter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    fuel: Mapped[str] = mapped_column(String(32))  # "natural_gas"
    ncv_gj_per_10k_nm3: Mapped[float] = mapped_column(Double)
    carbon_content_tc_per_gj: Mapped[float] = mapped_column(Double)
    oxidation_rate: Mapped[float] = mapped_column(Double)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)


class CarbonReopenedHour(Base):
    """An hour whose results are stale: a reading for it arrived after it closed."""

    __tablename__ = "carbon_reopened_hour"
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    reopened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IndicatorThreshold(Base):
    """A scorecard line: indicator ``comparator`` value for a tier (一类/二类/三类), with its
    source. ``park_id`` NULL rows are the defaults; a park's own rows replace them."""

    __tablename__ = "indicator_threshold"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int | None] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    indicator: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int] = mapped_column(SmallInteger)
    comparator: Mapped[str] = mapped_column(String(2))
    value: Mapped[float] = mapped_column(Double)
    unit: Mapped[str] = mapped_column(String(32))
    annual_tce_min: Mapped[float | None] = mapped_column(Double)
    annual_tce_max: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean)
    __table_args__ = (
        UniqueConstraint(
            "park_id",
            "indicator",
            "tier",
            "annual_tce_min",
            name="uq_indicator_threshold_park_indicator_tier",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("tier BETWEEN 1 AND 3", name="tier"),
        CheckConstraint("comparator IN ('<=', '>=', '<', '>')", name="comparator"),
    )


class ApiPrincipal(Base):
    """Who may call the API. Only a SHA-256 hash of the bearer token is stored."""

    __tablename__ = "api_principal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[PrincipalRole] = mapped_column(_enum(PrincipalRole, "principal_role"))
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    gateway_id: Mapped[int | None] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(
            "(role <> 'enterprise') OR enterprise_id IS NOT NULL", name="enterprise_has_enterprise"
        ),
    )
