"""What the carbon engine derives (interval energy, factors, emissions, coverage) and its
inputs besides telemetry (green certificates, fuel parameters, thresholds)."""

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
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.models.base import Base, pg_enum


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
    quality: Mapped[DataQuality] = mapped_column(pg_enum(DataQuality, "data_quality"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IntervalEnergy15m(Base):
    """Energy of one meter quantity in one quarter hour, by the derivation of
    ``IntervalEnergy`` (migration 0012); the hourly rows are sums of these."""

    __tablename__ = "interval_energy_15m"
    interval_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32, collation="C"), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    covered_seconds: Mapped[float] = mapped_column(Double)
    quality: Mapped[DataQuality] = mapped_column(pg_enum(DataQuality, "data_quality"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EnergyDaily(Base):
    """A meter quantity's energy in one local day of its park: the sum of its hours, the
    worst of their qualities, how many hours had energy (migration 0012; rollups.py)."""

    __tablename__ = "energy_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32, collation="C"), primary_key=True)
    park_id: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Double)
    covered_seconds: Mapped[float] = mapped_column(Double)
    hours: Mapped[int] = mapped_column(SmallInteger)
    quality: Mapped[DataQuality] = mapped_column(pg_enum(DataQuality, "data_quality"))
    # a meter's days (the API's series), beside the engine's day-leading key (migration 0017)
    __table_args__ = (Index("ix_energy_daily_meter", "meter_id", "quantity", "day"),)


class EnergyDailyPark(Base):
    """The park's energy in one local day per carrier: its boundary meters' days summed, grid
    import net of export (migration 0019; rollups.py)."""

    __tablename__ = "energy_daily_park"
    park_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    series: Mapped[str] = mapped_column(String(32, collation="C"), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    covered_seconds: Mapped[float] = mapped_column(Double)
    quality: Mapped[DataQuality] = mapped_column(pg_enum(DataQuality, "data_quality"))


class EnergyDailyParkMembers(Base):
    """Which meters a park's stored days are sums of: the digest of its members when they
    were rebuilt (rollups.PARK_MEMBERS_MD5)."""

    __tablename__ = "energy_daily_park_members"
    park_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    members_md5: Mapped[str] = mapped_column(String(32))
    rebuilt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
    # Park rows: what the enterprises were allocated and carbon in − carbon allocated in the
    # hour, kgCO2 (services/carbon/balance.py; the other terms are in inputs.balance).
    enterprises_kg: Mapped[float | None] = mapped_column(Double)
    public_kg: Mapped[float | None] = mapped_column(Double)
    conservation_residual_kg: Mapped[float | None] = mapped_column(Double)
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
    # Electricity taken from the park's grid (an enterprise's imports; the park's grid import)
    # and the certificate kWh matched to it in the hour (hourly matching): the period's
    # annual matching and the 24/7 score are computed from them (certificates.py).
    imported_kwh: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    certified_kwh: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
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
    # The certificate that comes with a green line's own electricity (绿电直连/专线 with its
    # GEC): the attribute of kWh already counted at zero, so it adds no green kWh of its own.
    bundled_meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id", ondelete="SET NULL"))


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


class FuelUse(Base):
    """Fossil fuel an enterprise reports burning over [valid_from, valid_to): coal, oil
    products and LPG are bought in batches, not metered. Scope 1 at the fuel's GB/T 32150
    defaults (services/carbon/data/fuels.csv) or the verified parameters given with it,
    spread evenly over the period's hours."""

    __tablename__ = "fuel_use"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    fuel: Mapped[str] = mapped_column(String(32))
    amount_t: Mapped[float] = mapped_column(Double)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reference: Mapped[str] = mapped_column(String(200))  # invoice, delivery note, ledger entry
    ncv_gj_per_t: Mapped[float | None] = mapped_column(Double)
    carbon_content_tc_per_gj: Mapped[float | None] = mapped_column(Double)
    oxidation_rate: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str | None] = mapped_column(Text)  # of verified parameters, when given
    __table_args__ = (
        CheckConstraint("valid_from < valid_to", name="ck_fuel_use_period"),
        CheckConstraint("amount_t > 0", name="ck_fuel_use_amount"),
    )


class GridFactorFeed(Base):
    """An upstream hourly grid factor for a region or province (e.g. State Grid Jiangsu's
    time- and zone-differentiated factors), imported by CSV or the API; it takes precedence
    over the annual factors for the hours it covers (services/carbon/grid_ladder.py)."""

    __tablename__ = "grid_factor_feed"
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    value_kg_per_kwh: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EmissionVersion(Base):
    """A restatement: the results of a park's hours as they were before factors changed
    (services/carbon/restate.py), with the difference report per enterprise and month."""

    __tablename__ = "emission_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    park_id: Mapped[int] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reason: Mapped[str] = mapped_column(Text)
    data_version: Mapped[str] = mapped_column(String(32))  # of the factor files after the change
    hours: Mapped[int] = mapped_column(Integer)
    report: Mapped[list[dict[str, object]]] = mapped_column(JSONB)


class EmissionHourlyVersion(Base):
    """One superseded row of ``emission_hourly``, kept by a restatement."""

    __tablename__ = "emission_hourly_version"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("emission_version.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(Integer)
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    electricity_kwh: Mapped[float] = mapped_column(Double)
    scope1_kg: Mapped[float] = mapped_column(Double)
    scope2_kg: Mapped[float] = mapped_column(Double)
    scope2_market_kg: Mapped[float] = mapped_column(Double)
    energy_tce: Mapped[float] = mapped_column(Double)
    grid_factor_kg_per_kwh: Mapped[float | None] = mapped_column(Double)


class FactorDataApplied(Base):
    """The factor files' version the stored results were last restated to (restate.py)."""

    __tablename__ = "factor_data_applied"
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CarbonReopenedRange(Base):
    """Hours [range_start, range_end) whose results are stale: an input for them changed
    after they closed (a late reading, a verified fuel parameter). One row a range, however
    long: the hourly job works through it a bounded stretch per run (late_data.py)."""

    __tablename__ = "carbon_reopened_range"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    range_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    range_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reopened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (CheckConstraint("range_start < range_end", name="ordered"),)


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
