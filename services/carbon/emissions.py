"""Hourly emissions and energy (tce) of every enterprise and of the park, set-based.

- Scope 1, natural gas: volume × 2.16502 kgCO2/Nm³ (GB/T 32150 method, factors.py).
- Scope 2, electricity: kWh × the park's 电碳因子 of that hour; where no park factor could
  be computed (no supply metered) the configured grid factor is used (location-based).
- Scope 2, purchased heat/steam: GJ × 110 kgCO2/GJ.
- Energy: GB/T 2589-2020 coefficients to tce, 当量值 (electricity at its calorific value,
  0.1229 kgce/kWh) and 等价值 (electricity at the supply coal rate, configurable).

Enterprise electricity is its main meters' import minus export. Park electricity is the
boundary balance: grid import (incl. green line) + PV − export − net storage charge.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.factors import Coefficient

ENTERPRISE_EMISSIONS_SQL = text(
    """
WITH usage AS (
    SELECT ie.hour_start, m.enterprise_id,
      coalesce(sum(CASE WHEN ie.quantity = 'energy_import_kwh' THEN ie.value
                        WHEN ie.quantity = 'energy_export_kwh' THEN -ie.value END)
               FILTER (WHERE m.role = 'enterprise_main'), 0) AS electricity_kwh,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'gas' AND ie.quantity = 'volume_m3'), 0) AS gas_m3,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'heat' AND ie.quantity = 'heat_gj'), 0) AS heat_gj
    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    WHERE m.park_id = :park_id AND m.enterprise_id IS NOT NULL
      AND ie.hour_start >= :lo AND ie.hour_start < :hi
    GROUP BY ie.hour_start, m.enterprise_id
)
INSERT INTO emission_hourly (park_id, enterprise_id, hour_start, electricity_kwh, gas_m3, heat_gj,
                             scope1_kg, scope2_kg, energy_tce, energy_tce_equivalent)
SELECT :park_id, u.enterprise_id, u.hour_start, u.electricity_kwh, u.gas_m3, u.heat_gj,
       u.gas_m3 * :gas_ef,
       u.electricity_kwh * coalesce(f.factor_kg_per_kwh, :grid_ef) + u.heat_gj * :heat_ef,
       (u.electricity_kwh * :el_ce + u.gas_m3 * :gas_ce + u.heat_gj * :heat_ce) / 1000.0,
       (u.electricity_kwh * :el_ce_eq + u.gas_m3 * :gas_ce + u.heat_gj * :heat_ce) / 1000.0
FROM usage u
LEFT JOIN carbon_factor_hourly f
  ON f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start = u.hour_start
"""
)

PARK_EMISSIONS_SQL = text(
    """
WITH hours AS (
    SELECT hour_start FROM carbon_factor_hourly
    WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
    UNION
    SELECT DISTINCT ie.hour_start FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    WHERE m.park_id = :park_id AND m.role IN ('gas', 'heat')
      AND ie.hour_start >= :lo AND ie.hour_start < :hi
), fuel AS (
    SELECT ie.hour_start,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'gas' AND ie.quantity = 'volume_m3'), 0) AS gas_m3,
      coalesce(sum(ie.value) FILTER (WHERE m.role = 'heat' AND ie.quantity = 'heat_gj'), 0) AS heat_gj
    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    WHERE m.park_id = :park_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
    GROUP BY ie.hour_start
), balance AS (
    SELECT h.hour_start, f.factor_kg_per_kwh AS factor,
      coalesce((f.inputs->>'grid_import_kwh')::float8 + (f.inputs->>'green_import_kwh')::float8
        + (f.inputs->>'pv_kwh')::float8 - (f.inputs->>'grid_export_kwh')::float8
        - (f.inputs->>'storage_charge_kwh')::float8 + (f.inputs->>'storage_discharge_kwh')::float8,
        0) AS electricity_kwh
    FROM hours h LEFT JOIN carbon_factor_hourly f
      ON f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start = h.hour_start
)
INSERT INTO emission_hourly (park_id, enterprise_id, hour_start, electricity_kwh, gas_m3, heat_gj,
                             scope1_kg, scope2_kg, energy_tce, energy_tce_equivalent)
SELECT :park_id, NULL, b.hour_start, b.electricity_kwh, coalesce(u.gas_m3, 0), coalesce(u.heat_gj, 0),
       coalesce(u.gas_m3, 0) * :gas_ef,
       b.electricity_kwh * coalesce(b.factor, :grid_ef) + coalesce(u.heat_gj, 0) * :heat_ef,
       (b.electricity_kwh * :el_ce + coalesce(u.gas_m3, 0) * :gas_ce
        + coalesce(u.heat_gj, 0) * :heat_ce) / 1000.0,
       (b.electricity_kwh * :el_ce_eq + coalesce(u.gas_m3, 0) * :gas_ce
        + coalesce(u.heat_gj, 0) * :heat_ce) / 1000.0
FROM balance b LEFT JOIN fuel u ON u.hour_start = b.hour_start
"""
)


def compute_emissions(
    session: Session,
    park_id: int,
    start: datetime,
    end: datetime,
    grid: Coefficient,
    electricity_equivalent_kgce_per_kwh: float = factors.ELECTRICITY_KGCE_PER_KWH_EQUIVALENT.value,
) -> None:
    """Recompute enterprise and park emissions for hours in [start, end). Idempotent."""
    params = {
        "park_id": park_id,
        "lo": start,
        "hi": end,
        "gas_ef": factors.gas_emission_kg_per_m3(),
        "grid_ef": grid.value,
        "heat_ef": factors.HEAT_KG_PER_GJ.value,
        "el_ce": factors.ELECTRICITY_KGCE_PER_KWH.value,
        "el_ce_eq": electricity_equivalent_kgce_per_kwh,
        "gas_ce": factors.NATURAL_GAS_KGCE_PER_M3.value,
        "heat_ce": factors.HEAT_KGCE_PER_GJ.value,
    }
    session.execute(
        text(
            "DELETE FROM emission_hourly WHERE park_id = :park_id AND hour_start >= :lo AND hour_start < :hi"
        ),
        params,
    )
    session.execute(ENTERPRISE_EMISSIONS_SQL, params)
    session.execute(PARK_EMISSIONS_SQL, params)
