"""The park's hourly 电碳因子 (location-based, supply-mix method with storage and CHP):
the supplies entering the park's own network and the intensity of each.

    factor = Σ (supply_k × EF_k) / Σ supply_k

Supplies and their intensities (carbon-method.md §1–§2, docs/carbon-method.md §4–§5):
- grid import at the park's MEE/NBS grid factor (region, year);
- grid import over a green line (绿电专线, meter ``green_supply``) at 0, less what enterprise
  meters on a dedicated green line take directly (they are allocated 0 themselves: the same
  kWh cannot also dilute everybody else's mix);
- PV and wind on the park's network at 0; generation behind an enterprise's main meter
  (``position = behind_meter``) belongs to its owner and enters the park's mix only as what
  that enterprise's main meter exports (at 0);
- on-site fossil generation (``chp`` meters on the park's network): the CO2 of the fuel
  metered by its gas meters (GB/T 32150 defaults), the electricity's share by the energy
  method E_el × 3.6 ÷ (E_el × 3.6 + heat out, MJ) when the unit's heat output is metered;
- battery discharge: the carbon it stored (services/carbon/storage.py).
Exports leave at the hour's mix intensity: they change the park's consumption, not its
factor. Charging is a consumption at the factor of the battery's bus.

Each hour's inputs (every supply, the factors used and their sources) are stored with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors

# Per CHP unit on the park's network and hour: its electricity, the fuel of the gas meters
# under it and its metered heat output; the CO2 allocated to electricity (kg) by the energy
# method. A CHP behind an enterprise's meter is that enterprise's own plant (its gas is its
# scope 1, its electricity its own consumption).
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
WHERE c.role = 'chp' AND c.position <> 'behind_meter' AND c.park_id = :park_id
  AND ie.hour_start >= :lo AND ie.hour_start < :hi
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
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'pv' AND ie.quantity = 'generation_kwh'
                                      AND m.position <> 'behind_meter'), 0) AS pv_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'wind' AND ie.quantity = 'generation_kwh'
                                      AND m.position <> 'behind_meter'), 0) AS wind_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role IN ('pv', 'wind') AND ie.quantity = 'generation_kwh'
                                      AND m.position = 'behind_meter'), 0) AS behind_meter_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role IN ('pv', 'wind') AND ie.quantity = 'generation_kwh'
                                      AND m.certificates_sold), 0) AS sold_generation_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'storage' AND m.position <> 'behind_meter'
                                      AND ie.quantity = 'storage_charge_kwh'), 0) AS storage_charge_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'storage' AND m.position <> 'behind_meter'
                                      AND ie.quantity = 'storage_discharge_kwh'), 0) AS storage_discharge_kwh
    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    WHERE m.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi AND NOT m.virtual
      AND m.role IN ('grid_import', 'pv', 'wind', 'storage')
    GROUP BY ie.hour_start
)
SELECT coalesce(s.hour_start, c.hour_start) AS hour_start,
       coalesce(s.grid_import_kwh, 0) AS grid_import_kwh, coalesce(s.green_import_kwh, 0) AS green_import_kwh,
       coalesce(s.grid_export_kwh, 0) AS grid_export_kwh, coalesce(s.pv_kwh, 0) AS pv_kwh,
       coalesce(s.wind_kwh, 0) AS wind_kwh, coalesce(s.behind_meter_kwh, 0) AS behind_meter_kwh,
       coalesce(s.sold_generation_kwh, 0) AS sold_generation_kwh,
       coalesce(c.chp_kwh, 0) AS chp_kwh, coalesce(c.chp_fuel_m3, 0) AS chp_fuel_m3,
       coalesce(c.chp_heat_gj, 0) AS chp_heat_gj, coalesce(c.chp_kg, 0) AS chp_kg,
       coalesce(s.storage_charge_kwh, 0) AS storage_charge_kwh,
       coalesce(s.storage_discharge_kwh, 0) AS storage_discharge_kwh
FROM supply s FULL JOIN chp_hour c ON c.hour_start = s.hour_start
ORDER BY 1
"""
)

# Each battery on the park's network, per hour: what it charged and discharged, where it
# sits and who owns it (its losses are its owner's consumption, storage.py).
STORAGE_UNITS_SQL = text(
    """
SELECT ie.hour_start, m.id AS meter_id, m.bus_id, m.enterprise_id,
       coalesce(sum(ie.value) FILTER (WHERE ie.quantity = 'storage_charge_kwh'), 0) AS charge_kwh,
       coalesce(sum(ie.value) FILTER (WHERE ie.quantity = 'storage_discharge_kwh'), 0) AS discharge_kwh
FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
WHERE m.park_id = :park_id AND m.role = 'storage' AND m.position <> 'behind_meter' AND NOT m.virtual
  AND ie.quantity IN ('storage_charge_kwh', 'storage_discharge_kwh')
  AND ie.hour_start >= :lo AND ie.hour_start < :hi
GROUP BY ie.hour_start, m.id, m.bus_id, m.enterprise_id
"""
)

# Where the batteries' lots stood at the end of the last hour before a range (storage.py).
STORAGE_STATE_SQL = text(
    """
SELECT inputs->'storage_pools' FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NULL AND hour_start < :hi AND hour_start >= :lo
  AND inputs ? 'storage_pools'
ORDER BY hour_start DESC LIMIT 1
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
    behind_meter_kwh: float = 0.0  # generated behind enterprise meters (not a park supply)
    # from the enterprise meters (nodal.load_bus_flows, one scan of them for both):
    enterprise_export_kwh: float = 0.0  # what enterprises' main meters sent into the park grid
    dedicated_green_kwh: float = 0.0  # taken by enterprise meters on a dedicated green line
    sold_generation_kwh: float = 0.0  # PV/wind whose certificates were sold (market view)
    chp_kwh: float = 0.0
    chp_kg: float = 0.0  # CO2 of the CHP fuel allocated to its electricity
    storage_charge_kwh: float = 0.0
    storage_discharge_kwh: float = 0.0

    @property
    def green_in_mix_kwh(self) -> float:
        """Green-line supply left for the park's mix after its dedicated users took theirs."""
        return max(self.green_import_kwh - self.dedicated_green_kwh, 0.0)

    @property
    def fresh_kwh(self) -> float:
        """Everything entering the park's pooled network except storage discharge."""
        return (
            self.grid_import_kwh
            + self.green_in_mix_kwh
            + self.pv_kwh
            + self.wind_kwh
            + self.chp_kwh
            + self.enterprise_export_kwh
        )

    def fresh_kg(self, grid_factor: float) -> float:
        return self.grid_import_kwh * grid_factor + self.chp_kg


def mix_factor(
    supply: HourSupply, grid_factor: float, discharge_kwh: float, discharge_kg: float
) -> float | None:
    """The supply-mix factor of one hour, the batteries' discharge carrying ``discharge_kg``."""
    total = supply.fresh_kwh + discharge_kwh
    if total <= 0:
        return None
    return (supply.fresh_kg(grid_factor) + discharge_kg) / total


def supply_rows(session: Session, park_id: int, start: datetime, end: datetime) -> dict[datetime, HourSupply]:
    rows = session.execute(
        PARK_SUPPLY_SQL,
        {"park_id": park_id, "lo": start, "hi": end, "gas_ef": factors.gas_emission_kg_per_m3()},
    ).mappings()
    fields = HourSupply.__dataclass_fields__
    return {
        row["hour_start"]: HourSupply(**{k: float(v) for k, v in row.items() if k in fields}) for row in rows
    }


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
