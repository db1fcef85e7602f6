"""What the 园区总览 page adds to the park overview: today so far against the same hours
yesterday and on the same weekday last week, where the park's energy came from (every
electricity source the engine books, and the carriers in tce), and data quality at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.alerts.queries import MeterHealth
from services.carbon import factors
from services.core.db import psycopg_connection
from services.ingest.replay import quarantine_summary

# Today's local hours [midnight, end) and the same hours one day and seven days earlier, from
# the park's own hourly rows (emission_hourly, enterprise_id NULL).
DAY_SPANS_SQL = text(
    """
SELECT s.k, coalesce(sum(e.electricity_kwh), 0), coalesce(sum(e.scope1_kg + e.scope2_kg), 0),
       coalesce(sum(e.energy_tce), 0), count(e.hour_start)
FROM (VALUES (0), (1), (7)) AS s(k)
LEFT JOIN emission_hourly e
  ON e.park_id = :park AND e.enterprise_id IS NULL
 AND e.hour_start >= :start - make_interval(days => s.k)
 AND e.hour_start < :end - make_interval(days => s.k)
GROUP BY s.k ORDER BY s.k
"""
)


@dataclass(frozen=True, slots=True)
class DayTotals:
    electricity_kwh: float
    emissions_kg: float
    energy_tce: float
    hours: int

    @property
    def intensity_t_per_tce(self) -> float | None:
        """单位能耗碳排放 (the 910号 core indicator's form, 当量值): no output or cost in the
        denominator, so it is known every hour."""
        return self.emissions_kg / 1000 / self.energy_tce if self.energy_tce > 0 else None


@dataclass(frozen=True, slots=True)
class DayComparison:
    since: datetime  # local midnight today
    until: datetime  # end of the latest computed hour
    today: DayTotals
    yesterday: DayTotals
    last_week: DayTotals

    def change(self, field: str, against: str) -> float | None:
        """Relative change of today's ``field`` against ``against`` (yesterday, last_week)."""
        other: DayTotals = getattr(self, against)
        if other.hours < self.today.hours:  # hours missing on that day: no fair comparison
            return None
        now, then = getattr(self.today, field), getattr(other, field)
        if now is None or not then:
            return None
        return float(now / then - 1.0)


def day_comparison(
    session: Session, park_id: int, timezone: str, latest_hour: datetime | None
) -> DayComparison:
    """Today so far, in the park's local day, against the very same hours a day and a week
    before (a fair comparison at 10:00 is 00:00–10:00 on each day)."""
    zone = ZoneInfo(timezone)
    until = (latest_hour + timedelta(hours=1)) if latest_hour is not None else datetime.now(zone)
    since = datetime.combine(until.astimezone(zone).date(), time(), zone)
    if until <= since:  # the first hour of the day is not computed yet: show yesterday whole
        since -= timedelta(days=1)
    rows = session.execute(DAY_SPANS_SQL, {"park": park_id, "start": since, "end": until}).all()
    totals = {int(k): DayTotals(float(kwh), float(kg), float(tce), int(n)) for k, kwh, kg, tce, n in rows}
    return DayComparison(since, until, totals[0], totals[1], totals[7])


# Electricity by where it came from (the inputs the engine stores with each park hour) and
# the heat and gas bought, for one window.
SOURCES_SQL = text(
    """
SELECT coalesce(sum((f.inputs->>'grid_import_kwh')::float8), 0),
       coalesce(sum((f.inputs->>'green_import_kwh')::float8), 0),
       coalesce(sum((f.inputs->>'pv_kwh')::float8), 0),
       coalesce(sum((f.inputs->>'wind_kwh')::float8), 0),
       coalesce(sum((f.inputs->>'behind_meter_kwh')::float8), 0),
       coalesce(sum((f.inputs->>'chp_kwh')::float8), 0),
       coalesce(sum((f.inputs->>'storage_discharge_kwh')::float8), 0),
       (SELECT coalesce(sum(gas_m3), 0) FROM emission_hourly
         WHERE park_id = :park AND enterprise_id IS NULL AND hour_start >= :start AND hour_start < :end),
       (SELECT coalesce(sum(heat_gj), 0) FROM emission_hourly
         WHERE park_id = :park AND enterprise_id IS NULL AND hour_start >= :start AND hour_start < :end)
FROM carbon_factor_hourly f
WHERE f.park_id = :park AND f.bus_id IS NULL AND f.hour_start >= :start AND f.hour_start < :end
"""
)
ELECTRICITY_SOURCES = ("grid", "green_line", "pv", "wind", "behind_meter_pv", "chp", "storage")


@dataclass(frozen=True, slots=True)
class EnergyMix:
    electricity_kwh: dict[str, float]  # ELECTRICITY_SOURCES → kWh
    gas_m3: float
    heat_gj: float

    def carriers_tce(self) -> dict[str, float]:
        """Final energy by carrier in tce (GB/T 2589-2020 当量值 coefficients, factors.py).
        Electricity made on site from gas (CHP) is counted once, as the gas burnt."""
        electricity = sum(v for k, v in self.electricity_kwh.items() if k not in ("chp", "storage"))
        return {
            "electricity": electricity * factors.ELECTRICITY_KGCE_PER_KWH.value / 1000,
            "natural_gas": self.gas_m3 * factors.NATURAL_GAS_KGCE_PER_M3.value / 1000,
            "heat": self.heat_gj * factors.HEAT_KGCE_PER_GJ.value / 1000,
        }


def energy_mix(session: Session, park_id: int, start: datetime, end: datetime) -> EnergyMix:
    row = session.execute(SOURCES_SQL, {"park": park_id, "start": start, "end": end}).one()
    values = [float(v) for v in row]
    return EnergyMix(dict(zip(ELECTRICITY_SOURCES, values[:7], strict=True)), values[7], values[8])


@dataclass(frozen=True, slots=True)
class QualityGlance:
    meters: int
    silent: int
    frozen: int
    incomplete: int
    calibration: int
    quarantined: int  # open quarantine entries


def quality_glance(session: Session, park_id: int, meters: list[MeterHealth]) -> QualityGlance:
    """Counts from the meters' health (alerts.queries.meter_health) and the open quarantine."""
    quarantine = quarantine_summary(psycopg_connection(session), park_id)
    return QualityGlance(
        meters=len(meters),
        silent=sum(m.silent for m in meters),
        frozen=sum(m.frozen for m in meters),
        incomplete=sum(m.incomplete for m in meters),
        calibration=sum(m.calibration_overdue for m in meters),
        quarantined=sum(int(n) for _, _, n in quarantine),
    )


# An enterprise's emissions by local day, scope and carrier: scope 2 heat is GJ × the heat
# factor (emissions.py books it so), electricity the rest of scope 2; scope 1 is fuel burnt
# (metered gas and the fuels its accepted reports declare).
CARRIER_DAYS_SQL = text(
    """
SELECT (hour_start AT TIME ZONE :tz)::date AS day, sum(scope1_kg) AS fuel_kg,
       sum(scope2_kg - heat_gj * :heat_ef) AS electricity_kg, sum(heat_gj * :heat_ef) AS heat_kg,
       sum(scope1_kg + scope2_market_kg) AS market_total_kg
FROM emission_hourly
WHERE park_id = :park AND enterprise_id = :enterprise AND hour_start >= :start AND hour_start < :end
GROUP BY 1 ORDER BY 1
"""
)


@dataclass(frozen=True, slots=True)
class CarrierDay:
    day: date
    fuel_kg: float
    electricity_kg: float
    heat_kg: float
    market_total_kg: float


def carrier_days(
    session: Session, park_id: int, enterprise_id: int, timezone: str, start: datetime, end: datetime
) -> list[CarrierDay]:
    rows = session.execute(
        CARRIER_DAYS_SQL,
        {
            "park": park_id,
            "enterprise": enterprise_id,
            "tz": timezone,
            "start": start,
            "end": end,
            "heat_ef": factors.HEAT_KG_PER_GJ.value,
        },
    ).all()
    return [
        CarrierDay(
            r.day, float(r.fuel_kg), float(r.electricity_kg), float(r.heat_kg), float(r.market_total_kg)
        )
        for r in rows
    ]
