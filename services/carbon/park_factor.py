"""The park's hourly 电碳因子 (location-based, supply-mix method with storage and CHP).

    factor = Σ (supply_k × EF_k) / Σ supply_k

Supplies and their intensities (carbon-method.md §1–§2, docs/carbon-method.md §4):
- grid import at the park's MEE/NBS grid factor (region, year);
- grid import over a green line (绿电专线, meter ``green_supply``), on-site PV and wind: 0;
- on-site fossil generation (``chp`` meters): the CO2 of the fuel metered by its gas
  meters (GB/T 32150 defaults), the electricity's share by the energy method
  E_el × 3.6 ÷ (E_el × 3.6 + heat out, MJ) when the unit's heat output is metered;
- battery discharge: the intensity of the energy it stored, i.e. the charge-weighted
  factor of the energy charged over the previous 24 hours (a park battery cycles about
  daily); with nothing charged in that window it passes the hour's mix through.
Exports leave at the hour's mix intensity: they change the park's consumption, not its
factor. Charging is a consumption at the hour's factor.

Each hour's inputs (every supply, the factors used and their sources) are stored with it.
The storage window makes an hour depend on the 24 before it; ``STORAGE_MEMORY`` is what
late data re-opens after an hour in a park with storage (services/carbon/late_data.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.derived import clear_hours
from services.carbon.factors import Coefficient

STORAGE_MEMORY = timedelta(hours=24)

# Per CHP unit and hour: its electricity, the fuel of the gas meters under it and its
# metered heat output; the CO2 allocated to electricity (kg) by the energy method.
CHP_UNITS_SQL = """
SELECT ie.hour_start, c.id AS chp_meter_id, c.bus_id,
       coalesce(sum(ie.value) FILTER (WHERE f.role = 'chp' AND ie.quantity = 'generation_kwh'), 0) AS kwh,
       coalesce(sum(ie.value) FILTER (WHERE f.role = 'gas' AND ie.quantity = 'volume_m3'), 0) AS fuel_m3,
       coalesce(sum(ie.value) FILTER (WHERE f.role = 'heat' AND ie.quantity = 'heat_gj'), 0) AS heat_gj
FROM meter c
JOIN (  -- the unit's own meter and the meters under it, as equi-joins (hashable)
    SELECT id, id AS unit, role FROM meter WHERE role = 'chp'
    UNION ALL
    SELECT id, parent_meter_id, role FROM meter WHERE parent_meter_id IS NOT NULL AND role IN ('gas', 'heat')
) f ON f.unit = c.id
JOIN interval_energy ie ON ie.meter_id = f.id
WHERE c.role = 'chp' AND c.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
GROUP BY ie.hour_start, c.id, c.bus_id
"""
# kgCO2 of a CHP unit's hour allocated to its electricity, over a row of CHP_UNITS_SQL: the
# fuel's CO2 × E_el × 3.6 ÷ (E_el × 3.6 + heat out in MJ), the energy method (factors.py).
CHP_ELECTRICITY_KG_SQL = (
    f"CASE WHEN kwh > 0 THEN fuel_m3 * :gas_ef * kwh * {factors.MJ_PER_KWH} "
    f"/ (kwh * {factors.MJ_PER_KWH} + heat_gj * 1000.0) ELSE 0 END"
)

PARK_SUPPLY_SQL = text(
    f"""
WITH chp AS ({CHP_UNITS_SQL}),
chp_hour AS (
    SELECT hour_start, sum(kwh) AS chp_kwh, sum(fuel_m3) AS chp_fuel_m3, sum(heat_gj) AS chp_heat_gj,
           sum({CHP_ELECTRICITY_KG_SQL}) AS chp_kg
    FROM chp GROUP BY hour_start
), supply AS (
    SELECT ie.hour_start,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'grid_import' AND ie.quantity = 'energy_import_kwh'
                                      AND NOT m.green_supply), 0) AS grid_import_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'grid_import' AND ie.quantity = 'energy_import_kwh'
                                      AND m.green_supply), 0) AS green_import_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'grid_import'
                                      AND ie.quantity = 'energy_export_kwh'), 0) AS grid_export_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'pv' AND ie.quantity = 'generation_kwh'), 0) AS pv_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'wind'
                                      AND ie.quantity = 'generation_kwh'), 0) AS wind_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'storage'
                                      AND ie.quantity = 'storage_charge_kwh'), 0) AS storage_charge_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'storage'
                                      AND ie.quantity = 'storage_discharge_kwh'), 0) AS storage_discharge_kwh
    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    WHERE m.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
      AND m.role IN ('grid_import', 'pv', 'wind', 'storage')
    GROUP BY ie.hour_start
)
SELECT coalesce(s.hour_start, c.hour_start) AS hour_start,
       coalesce(s.grid_import_kwh, 0) AS grid_import_kwh, coalesce(s.green_import_kwh, 0) AS green_import_kwh,
       coalesce(s.grid_export_kwh, 0) AS grid_export_kwh, coalesce(s.pv_kwh, 0) AS pv_kwh,
       coalesce(s.wind_kwh, 0) AS wind_kwh,
       coalesce(c.chp_kwh, 0) AS chp_kwh, coalesce(c.chp_fuel_m3, 0) AS chp_fuel_m3,
       coalesce(c.chp_heat_gj, 0) AS chp_heat_gj, coalesce(c.chp_kg, 0) AS chp_kg,
       coalesce(s.storage_charge_kwh, 0) AS storage_charge_kwh,
       coalesce(s.storage_discharge_kwh, 0) AS storage_discharge_kwh
FROM supply s FULL JOIN chp_hour c ON c.hour_start = s.hour_start
ORDER BY 1
"""
)

# The storage window's history before a recomputed range: earlier hours' charge and factor.
STORAGE_HISTORY_SQL = text(
    """
SELECT hour_start, factor_kg_per_kwh AS factor, (inputs->>'storage_charge_kwh')::float8 AS charge_kwh
FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
ORDER BY hour_start
"""
)


def any_storage(session: Session) -> bool:
    """Whether any park has a battery, i.e. whether hours depend on the ones before them."""
    return bool(
        session.execute(text("SELECT EXISTS (SELECT 1 FROM meter WHERE role = 'storage')")).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class HourSupply:
    grid_import_kwh: float = 0.0
    green_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    pv_kwh: float = 0.0
    wind_kwh: float = 0.0
    chp_kwh: float = 0.0
    chp_kg: float = 0.0  # CO2 of the CHP fuel allocated to its electricity
    storage_charge_kwh: float = 0.0
    storage_discharge_kwh: float = 0.0

    @property
    def generation_kwh(self) -> float:
        """Everything entering the park's grid except storage discharge."""
        return self.grid_import_kwh + self.green_import_kwh + self.pv_kwh + self.wind_kwh + self.chp_kwh


@dataclass(frozen=True, slots=True)
class HourFactor:
    factor: float | None  # kgCO2/kWh, None when nothing was supplied
    storage_intensity: float | None  # what the discharged energy carried


def hour_factor(supply: HourSupply, grid_factor: float, stored_intensity: float | None) -> HourFactor:
    """The supply-mix factor of one hour. ``stored_intensity`` comes from ``StorageWindow``."""
    fresh_carbon = supply.grid_import_kwh * grid_factor + supply.chp_kg
    fresh = supply.generation_kwh
    mix = fresh_carbon / fresh if fresh > 0 else None
    discharge = supply.storage_discharge_kwh
    intensity = stored_intensity if stored_intensity is not None else mix
    if discharge > 0 and intensity is None:
        intensity = grid_factor  # a battery discharging with no history and no other supply
    total = fresh + discharge
    if total <= 0:
        return HourFactor(None, intensity if discharge > 0 else None)
    carbon = fresh_carbon + discharge * (intensity or 0.0)
    return HourFactor(carbon / total, intensity if discharge > 0 else None)


class StorageWindow:
    """Charge-weighted intensity of the energy charged in the last ``STORAGE_MEMORY``."""

    def __init__(self) -> None:
        self._charges: deque[tuple[datetime, float, float]] = deque()  # hour, kWh, kgCO2

    def add(self, hour: datetime, charge_kwh: float, factor: float | None) -> None:
        if charge_kwh > 0 and factor is not None:
            self._charges.append((hour, charge_kwh, charge_kwh * factor))

    def intensity(self, hour: datetime) -> float | None:
        while self._charges and self._charges[0][0] < hour - STORAGE_MEMORY:
            self._charges.popleft()
        kwh = sum(c[1] for c in self._charges)
        return sum(c[2] for c in self._charges) / kwh if kwh > 0 else None


@dataclass(frozen=True, slots=True)
class ParkHour:
    hour_start: datetime
    supply: HourSupply
    result: HourFactor


def compute_park_factors(
    session: Session, park_id: int, start: datetime, end: datetime, grid: Coefficient
) -> list[ParkHour]:
    """Recompute the park factor for hours in [start, end), in time order. Idempotent."""
    clear_hours(session, "carbon_factor_hourly", start, end, park_id, nodes="park")
    window = StorageWindow()
    for earlier in session.execute(
        STORAGE_HISTORY_SQL, {"park_id": park_id, "lo": start - STORAGE_MEMORY, "hi": start}
    ):
        window.add(earlier.hour_start, earlier.charge_kwh or 0.0, earlier.factor)
    gas_ef = factors.gas_emission_kg_per_m3()
    rows = session.execute(
        PARK_SUPPLY_SQL, {"park_id": park_id, "lo": start, "hi": end, "gas_ef": gas_ef}
    ).mappings()
    hours: list[ParkHour] = []
    records: list[FactorRecord] = []
    for row in rows:
        values = {k: float(v) for k, v in row.items() if k != "hour_start"}
        supply = HourSupply(**{k: v for k, v in values.items() if k in HourSupply.__dataclass_fields__})
        result = hour_factor(supply, grid.value, window.intensity(row["hour_start"]))
        window.add(row["hour_start"], supply.storage_charge_kwh, result.factor)
        hours.append(ParkHour(row["hour_start"], supply, result))
        inputs: dict[str, object] = {
            **values,
            "grid_factor_kg_per_kwh": grid.value,
            "grid_factor_source": grid.source,
            "chp_gas_kg_per_m3": gas_ef,
            "chp_gas_source": factors.GAS_NCV_GJ_PER_10K_NM3.source,
            "storage_intensity_kg_per_kwh": result.storage_intensity,
        }
        records.append(
            FactorRecord(bus_id=None, hour_start=row["hour_start"], factor=result.factor, inputs=inputs)
        )
    store_factors(session, park_id, "supply_mix", records)
    return hours


class FactorRecord(TypedDict):
    """One row of ``carbon_factor_hourly`` as ``store_factors`` sends it."""

    bus_id: int | None  # None: the park
    hour_start: datetime
    factor: float | None
    inputs: dict[str, object]


FACTOR_RECORDS_SQL = text(
    """
INSERT INTO carbon_factor_hourly (park_id, bus_id, hour_start, factor_kg_per_kwh, method, inputs)
SELECT :park_id, r.bus_id, r.hour_start, r.factor, :method, r.inputs
FROM jsonb_to_recordset(CAST(:records AS jsonb))
     AS r(bus_id int, hour_start timestamptz, factor float8, inputs jsonb)
"""
)


def store_factors(session: Session, park_id: int, method: str, records: list[FactorRecord]) -> None:
    """Insert factor rows in one statement. The rows travel as one JSON document: a week of
    a 20-bus park is ~3 700 rows whose inputs, sent as a text array, psycopg would escape
    element by element (~0.1 s of Python per week of backfill)."""
    if records:
        session.execute(
            FACTOR_RECORDS_SQL,
            {"park_id": park_id, "method": method, "records": orjson.dumps(records).decode()},
        )
