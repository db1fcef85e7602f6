"""Hourly emissions and energy (tce) of every enterprise and of the park, set-based.

Enterprise (its meters; a virtual enterprise meter replaces the meters it is built from):
- Scope 1, natural gas: m³ × NCV × CC × OF × 44/12 (GB/T 32150-2015), the enterprise's
  verified parameters for the hour (``fuel_parameter``) or the defaults (factors.py).
- Scope 2 electricity, location-based: each main meter's net kWh × the 电碳因子 of its bus
  (carbon emission flow, nodal.py), else the park factor, else the grid factor; a green
  line (绿电专线) at 0.
- Scope 2 electricity, market-based: green kWh (green line + 绿证/绿电交易 certificates
  spread evenly over their validity, capped by the hour's use) at 0, the rest at the
  MEE/NBS residual-mix factor of the park's factor year.
- Scope 2 purchased heat/steam: GJ × 110 kgCO2/GJ, in both views.
- Energy: GB/T 2589-2020 coefficients to tce, 当量值 (electricity at its calorific value,
  0.1229 kgce/kWh) and 等价值 (electricity at the supply coal rate, configurable).

Park (its boundary, not the sum of enterprises, which would miss public loads and count
inside transfers): scope 1 = all gas entering the park (boundary gas meters, including
CHP fuel); scope 2 location = net purchased electricity (grid import − export, as the
national accounting guidelines' 净购入电力) × grid factor + purchased heat (heat meters
without a parent: CHP heat is produced inside); market = the same net purchase less the
park's certificates at the residual-mix factor. Consumption = grid + green line + PV +
wind + CHP + storage discharge − export − storage charge; tce counts CHP electricity once,
through its fuel.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.derived import clear_hours
from services.carbon.factors import GAS_EMISSION_SQL, GAS_TCE_SQL, Coefficient
from services.carbon.interval_energy import QUALITY_RANK
from services.carbon.policies import EXPORT_SCOPE2_SQL, ExportTreatment

# Gas kgCO2 and kgce per m³ of each enterprise with verified parameters, per hour of the range
# (the record starting latest wins): one NCV for both; joined by hash, the defaults (:gas_ef,
# :gas_ce) where none.
VERIFIED_GAS_CTE = f"""verified_gas AS MATERIALIZED (
    SELECT DISTINCT ON (fp.enterprise_id, h.hour_start) fp.enterprise_id, h.hour_start,
           {GAS_EMISSION_SQL} AS kg_per_m3, {GAS_TCE_SQL} AS kgce_per_m3
    FROM fuel_parameter fp
    JOIN generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 hour',
                         interval '1 hour') AS h(hour_start)
      ON fp.valid_from <= h.hour_start AND fp.valid_to > h.hour_start
    WHERE fp.fuel = 'natural_gas'
    ORDER BY fp.enterprise_id, h.hour_start, fp.valid_from DESC
)"""
GAS_FACTOR_SQL = "coalesce(vg.kg_per_m3, :gas_ef)"
VERIFIED_GAS_JOIN = (
    "LEFT JOIN verified_gas vg ON vg.enterprise_id = m.enterprise_id AND vg.hour_start = ie.hour_start"
)

# Certificates spread evenly over their validity: the share falling into each hour.
CERTIFICATES_SQL = """
SELECT h.hour_start, c.enterprise_id,
       sum(c.kwh * extract(epoch FROM least(c.valid_to, h.hour_start + interval '1 hour')
                                    - greatest(c.valid_from, h.hour_start))
                 / extract(epoch FROM c.valid_to - c.valid_from)) AS kwh
FROM green_certificate c
JOIN generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 hour',
                     interval '1 hour') AS h(hour_start)
  ON c.valid_from < h.hour_start + interval '1 hour' AND c.valid_to > h.hour_start
WHERE c.park_id = :park_id
  AND c.bundled_meter_id IS NULL  -- a green line's own certificate: its kWh are already at zero
GROUP BY h.hour_start, c.enterprise_id
"""

# An enterprise's own meter of a kind, unless it is a source of a virtual meter of the same
# enterprise and role (then the virtual meter stands for it).
COUNTED_METER_SQL = """NOT EXISTS (
        SELECT 1 FROM virtual_meter_term t JOIN meter v ON v.id = t.virtual_meter_id
        WHERE t.source_meter_id = m.id AND v.enterprise_id = m.enterprise_id AND v.role = m.role)"""

# {quantities}: the enterprise meters' quantities read; generation only in a park with
# generation behind an enterprise meter (otherwise it would read every PV meter's rows for none).
ENTERPRISE_EMISSIONS_TEMPLATE = f"""
WITH {VERIFIED_GAS_CTE}, bus_factor AS MATERIALIZED (  -- hashed, not probed by index per meter-hour
    SELECT bus_id, hour_start, factor_kg_per_kwh AS factor FROM carbon_factor_hourly
    WHERE park_id = :park_id AND bus_id IS NOT NULL AND hour_start >= :lo AND hour_start < :hi
), park_factor AS MATERIALIZED (  -- with the hour's grid factor and residual mix (grid_ladder.py)
    SELECT hour_start, factor_kg_per_kwh AS factor,
           (inputs->>'grid_factor_kg_per_kwh')::float8 AS grid,
           (inputs->>'residual_mix_kg_per_kwh')::float8 AS residual
    FROM carbon_factor_hourly
    WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
), counted AS MATERIALIZED (  -- the park's enterprise meters that count: a small set, hashed
    SELECT m.id, m.enterprise_id, m.bus_id, m.green_supply, m.certificates_sold,
           -- an enterprise's own PV or wind behind its main meter: generation it consumes
           CASE WHEN m.role IN ('pv', 'wind') THEN 'own_generation' ELSE m.role::text END AS role
    FROM meter m
    WHERE m.park_id = :park_id AND m.enterprise_id IS NOT NULL
      AND (m.role IN ('enterprise_main', 'gas', 'heat')
           OR (m.role IN ('pv', 'wind') AND m.position = 'behind_meter' AND NOT m.virtual))
      AND {COUNTED_METER_SQL}
), metered AS (  -- one scan of the hours: net kWh of each main meter, m³ and GJ of the others
    SELECT ie.hour_start, m.enterprise_id, m.bus_id, m.green_supply, m.certificates_sold, m.role,
           sum(CASE WHEN ie.quantity = 'energy_export_kwh' THEN -ie.value ELSE ie.value END) AS amount,
           coalesce(sum(ie.value) FILTER (WHERE ie.quantity <> 'energy_export_kwh'), 0) AS imported
    FROM interval_energy ie JOIN counted m ON m.id = ie.meter_id
    WHERE ie.hour_start >= :lo AND ie.hour_start < :hi
      -- one index range scan over the hours, filtered in the index (an OR of pairs alone
      -- makes the planner OR three bitmap scans of the whole range)
      AND ie.quantity IN ({{quantities}})
      AND ((m.role = 'enterprise_main' AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh'))
           OR (m.role = 'own_generation' AND ie.quantity = 'generation_kwh')
           OR (m.role = 'gas' AND ie.quantity = 'volume_m3') OR (m.role = 'heat' AND ie.quantity = 'heat_gj'))
    GROUP BY ie.hour_start, m.enterprise_id, m.bus_id, m.green_supply, m.certificates_sold, m.role
), parts AS (
    SELECT x.hour_start, x.enterprise_id,
           -- consumption: net of its main meters plus what it generated behind them
           CASE WHEN x.role IN ('enterprise_main', 'own_generation') THEN x.amount ELSE 0 END AS kwh,
           CASE WHEN x.role = 'enterprise_main' THEN x.imported ELSE 0 END AS imported_kwh,
           CASE WHEN x.role = 'enterprise_main' THEN x.imported - x.amount ELSE 0 END AS exported_kwh,
           CASE WHEN x.role = 'own_generation' THEN x.amount ELSE 0 END AS own_kwh,
           CASE WHEN x.role = 'own_generation' AND x.certificates_sold THEN x.amount ELSE 0 END
               AS own_sold_kwh,
           -- Electricity taken from the park grid at its node's factor. An export is not credited:
           -- it already entered that node's mix at zero (BUS_FLOWS_SQL, nodal.py), and a credit
           -- on top would allocate its carbon twice (grid 100 kWh → F 150, E exports 50: F
           -- 53.06 kg, E 0, not −17.69; issue 14 §1).
           CASE WHEN x.role <> 'enterprise_main' OR x.green_supply THEN 0
                ELSE x.imported * coalesce(bf.factor, pf.factor, pf.grid, :grid_ef) END AS location_kg,
           CASE WHEN x.role = 'enterprise_main' AND x.green_supply THEN x.imported ELSE 0 END
               AS green_line_kwh,
           CASE WHEN x.role = 'gas' THEN x.amount ELSE 0 END AS gas_m3,
           CASE WHEN x.role = 'gas' THEN x.amount * coalesce(vg.kg_per_m3, :gas_ef) ELSE 0 END AS gas_kg,
           CASE WHEN x.role = 'gas' THEN x.amount * coalesce(vg.kgce_per_m3, :gas_ce) ELSE 0 END AS gas_kgce,
           CASE WHEN x.role = 'heat' THEN x.amount ELSE 0 END AS heat_gj
    FROM metered x
    LEFT JOIN bus_factor bf ON bf.bus_id = x.bus_id AND bf.hour_start = x.hour_start
    LEFT JOIN park_factor pf ON pf.hour_start = x.hour_start
    LEFT JOIN verified_gas vg ON vg.enterprise_id = x.enterprise_id AND vg.hour_start = x.hour_start
), usage AS (
    SELECT hour_start, enterprise_id, sum(kwh) AS kwh, sum(imported_kwh) AS imported_kwh,
           -- its own renewable generation it consumed (what it exported left with the park mix)
           greatest(sum(own_kwh) - sum(exported_kwh), 0) AS own_consumed_kwh,
           sum(own_sold_kwh) AS own_sold_kwh,
           sum(location_kg) AS location_kg,
           sum(green_line_kwh) AS green_line_kwh, sum(gas_m3) AS gas_m3, sum(gas_kg) AS gas_kg,
           sum(gas_kgce) AS gas_kgce, sum(heat_gj) AS heat_gj
    FROM parts GROUP BY hour_start, enterprise_id
), certificates AS ({CERTIFICATES_SQL}
), green AS (
    SELECT u.*, least(u.imported_kwh, u.green_line_kwh + coalesce(c.kwh, 0)) AS green_kwh,
           coalesce(pf.residual, :residual_ef) AS residual_ef
    FROM usage u
    LEFT JOIN certificates c ON c.hour_start = u.hour_start AND c.enterprise_id = u.enterprise_id
    LEFT JOIN park_factor pf ON pf.hour_start = u.hour_start
), written AS (
INSERT INTO emission_hourly (park_id, enterprise_id, hour_start, electricity_kwh, gas_m3, heat_gj,
                             scope1_kg, scope2_kg, scope2_market_kg, green_kwh, non_fossil_kwh,
                             energy_tce, energy_tce_equivalent, imported_kwh, certified_kwh)
SELECT :park_id, enterprise_id, hour_start, kwh, gas_m3, heat_gj,
       gas_kg,
       location_kg + heat_gj * :heat_ef,
       -- own generation whose certificates were sold is no longer zero in the market view
       (imported_kwh - green_kwh + least(own_sold_kwh, own_consumed_kwh)) * residual_ef + heat_gj * :heat_ef,
       green_kwh, green_kwh + own_consumed_kwh,
       (kwh * :el_ce + gas_kgce + heat_gj * :heat_ce) / 1000.0,
       (kwh * :el_ce_eq + gas_kgce + heat_gj * :heat_ce) / 1000.0,
       imported_kwh, green_kwh - least(imported_kwh, green_line_kwh)
FROM green
ORDER BY enterprise_id, hour_start  -- the unique key's order: appends, not page splits
RETURNING hour_start, scope2_kg - heat_gj * :heat_ef AS location_kg
)
-- for the hour's carbon balance (balance.py): what the enterprises were allocated
SELECT hour_start, sum(location_kg) AS kg FROM written GROUP BY hour_start
"""
ENTERPRISE_QUANTITIES = "'energy_import_kwh', 'energy_export_kwh', 'volume_m3', 'heat_gj'"
ENTERPRISE_EMISSIONS_SQL = {
    own_generation: text(
        ENTERPRISE_EMISSIONS_TEMPLATE.format(
            quantities=ENTERPRISE_QUANTITIES + (", 'generation_kwh'" if own_generation else "")
        )
    )
    for own_generation in (False, True)
}
OWN_GENERATION_SQL = text(
    "SELECT EXISTS (SELECT 1 FROM meter WHERE park_id = :park_id AND role IN ('pv', 'wind') "
    "AND position = 'behind_meter' AND enterprise_id IS NOT NULL)"
)

PARK_EMISSIONS_SQL = text(
    f"""
WITH {VERIFIED_GAS_CTE}, boundary_fuel AS (  -- gas entering the park (incl. CHP fuel), heat bought
    SELECT ie.hour_start,
           sum(ie.value) FILTER (WHERE m.role = 'gas') AS gas_m3,
           sum(ie.value * {GAS_FACTOR_SQL}) FILTER (WHERE m.role = 'gas') AS gas_kg,
           sum(ie.value * coalesce(vg.kgce_per_m3, :gas_ce)) FILTER (WHERE m.role = 'gas') AS gas_kgce,
           sum(ie.value) FILTER (WHERE m.role = 'heat') AS heat_gj
    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    {VERIFIED_GAS_JOIN}
    -- the boundary is explicit per meter (meter.position): a CHP fed through a boundary gas
    -- meter has its own fuel meter inside, counted once at the boundary
    WHERE m.park_id = :park_id AND NOT m.virtual AND m.position = 'boundary'
      AND ((m.role = 'gas' AND ie.quantity = 'volume_m3') OR (m.role = 'heat' AND ie.quantity = 'heat_gj'))
      AND ie.hour_start >= :lo AND ie.hour_start < :hi
    GROUP BY ie.hour_start
), balance AS (
    SELECT hour_start,
           (inputs->>'grid_import_kwh')::float8 AS grid, (inputs->>'grid_export_kwh')::float8 AS export,
           coalesce((inputs->'balance'->>'export_kg')::float8, 0) AS export_kg,
           (inputs->>'green_import_kwh')::float8 AS green_line,
           (inputs->>'pv_kwh')::float8 + (inputs->>'wind_kwh')::float8
               + (inputs->>'behind_meter_kwh')::float8 AS renewable,
           (inputs->>'chp_kwh')::float8 AS chp,
           coalesce((inputs->>'sold_generation_kwh')::float8, 0) AS sold,
           (inputs->>'grid_factor_kg_per_kwh')::float8 AS grid_ef,
           (inputs->>'residual_mix_kg_per_kwh')::float8 AS residual_ef,
           -- a battery's losses were bought at the boundary: consumed when they are realised
           (inputs->>'storage_discharge_kwh')::float8 - (inputs->>'storage_charge_kwh')::float8
               + (inputs->>'storage_loss_kwh')::float8 AS storage_net
    FROM carbon_factor_hourly
    WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
), certificates AS (
    SELECT hour_start, sum(kwh) AS kwh FROM ({CERTIFICATES_SQL}) c GROUP BY hour_start
), hours AS (
    SELECT hour_start FROM balance UNION SELECT hour_start FROM boundary_fuel
), park AS (
    SELECT h.hour_start,
           coalesce(b.grid, 0) AS imp, coalesce(b.export, 0) AS exp, coalesce(b.export_kg, 0) AS exp_kg,
           coalesce(b.green_line, 0) AS green_line, coalesce(b.renewable, 0) AS renewable,
           coalesce(b.chp, 0) AS chp, coalesce(b.sold, 0) AS sold,
           coalesce(b.grid_ef, :grid_ef) AS grid_ef, coalesce(b.residual_ef, :residual_ef) AS residual_ef,
           coalesce(b.grid + b.green_line + b.renewable + b.chp + b.storage_net - b.export, 0) AS kwh,
           coalesce(b.grid + b.green_line + b.renewable + b.chp + b.storage_net, 0) AS supplied,
           least(coalesce(b.grid, 0), coalesce(c.kwh, 0)) AS certified,
           coalesce(f.gas_m3, 0) AS gas_m3, coalesce(f.gas_kg, 0) AS gas_kg,
           coalesce(f.gas_kgce, 0) AS gas_kgce, coalesce(f.heat_gj, 0) AS heat_gj
    FROM hours h
    LEFT JOIN balance b ON b.hour_start = h.hour_start
    LEFT JOIN boundary_fuel f ON f.hour_start = h.hour_start
    LEFT JOIN certificates c ON c.hour_start = h.hour_start
)
INSERT INTO emission_hourly (park_id, enterprise_id, hour_start, electricity_kwh, gas_m3, heat_gj,
                             scope1_kg, scope2_kg, scope2_market_kg, green_kwh, non_fossil_kwh,
                             energy_tce, energy_tce_equivalent, imported_kwh, certified_kwh)
SELECT :park_id, NULL, hour_start, kwh, gas_m3, heat_gj,
       gas_kg,
       -- location-based: the park's export treatment (policies.py); market-based: what was
       -- imported less certified kWh, exports not credited (their attribute left with them)
       {EXPORT_SCOPE2_SQL} + heat_gj * :heat_ef,
       -- on-site generation whose certificates were sold, in the share the park consumed
       (imp - certified + CASE WHEN supplied > 0 THEN sold * least(greatest(kwh, 0) / supplied, 1) ELSE 0 END)
           * residual_ef + heat_gj * :heat_ef,
       green_line + certified,
       -- Non-fossil electricity consumed in the park: exports leave with the hour's mix, so
       -- only the consumed share of green-line and on-site renewable supply counts (PV 1 000,
       -- export 300, use 700 → 700, not 1 000), plus certified purchase; never above use.
       least(greatest(kwh, 0),
             CASE WHEN supplied > 0 THEN (green_line + renewable) * kwh / supplied ELSE 0 END + certified),
       ((kwh - chp) * :el_ce + gas_kgce + heat_gj * :heat_ce) / 1000.0,
       ((kwh - chp) * :el_ce_eq + gas_kgce + heat_gj * :heat_ce) / 1000.0,
       imp + green_line, certified  -- all electricity taken from outside; the certificates on it
FROM park
"""
)


# A battery's losses (storage.py) are its owning enterprise's consumption: added to its row
# of the hour (created when it had none), from the park factor's stored battery inputs.
STORAGE_LOSSES_SQL = text(
    """
INSERT INTO emission_hourly (park_id, enterprise_id, hour_start, electricity_kwh, gas_m3, heat_gj,
                             scope1_kg, scope2_kg, scope2_market_kg, green_kwh, non_fossil_kwh,
                             energy_tce, energy_tce_equivalent, imported_kwh)
SELECT :park_id, (u->>'enterprise_id')::int, f.hour_start, sum((u->>'loss_kwh')::float8), 0, 0,
       0, sum((u->>'loss_kg')::float8),
       sum((u->>'loss_kwh')::float8 * (f.inputs->>'residual_mix_kg_per_kwh')::float8), 0, 0,
       sum((u->>'loss_kwh')::float8) * :el_ce / 1000.0, sum((u->>'loss_kwh')::float8) * :el_ce_eq / 1000.0,
       sum((u->>'loss_kwh')::float8)
FROM carbon_factor_hourly f CROSS JOIN LATERAL jsonb_array_elements(f.inputs->'storage') u
WHERE f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start >= :lo AND f.hour_start < :hi
  AND (f.inputs->>'storage_loss_kwh')::float8 > 0  -- only hours with a loss are opened up
  AND u->>'enterprise_id' IS NOT NULL AND (u->>'loss_kwh')::float8 > 0
GROUP BY 2, 3
ON CONFLICT ON CONSTRAINT uq_emission_entity_hour DO UPDATE SET
    electricity_kwh = emission_hourly.electricity_kwh + EXCLUDED.electricity_kwh,
    imported_kwh = emission_hourly.imported_kwh + EXCLUDED.imported_kwh,
    scope2_kg = emission_hourly.scope2_kg + EXCLUDED.scope2_kg,
    scope2_market_kg = emission_hourly.scope2_market_kg + EXCLUDED.scope2_market_kg,
    energy_tce = emission_hourly.energy_tce + EXCLUDED.energy_tce,
    energy_tce_equivalent = emission_hourly.energy_tce_equivalent + EXCLUDED.energy_tce_equivalent
"""
)


# Reported fuel (coal, oil products, LPG; fuel_use) spread evenly over its period, per hour
# and enterprise: kgCO2 = t × NCV × CC × OF × 44/12 × 1000 and kgce = t × NCV × 10⁶ ÷ 29 307.6,
# the verified parameters given with the report or the fuel's defaults (fuels.csv).
FUEL_USE_CTE = f"""fuel_defaults AS (
    SELECT * FROM jsonb_to_recordset(CAST(:fuels AS jsonb)) AS d(fuel text, ncv float8, cc float8, ofr float8)
), fuel_hours AS (
    SELECT h.hour_start, u.enterprise_id,
           sum(share * coalesce(u.ncv_gj_per_t, d.ncv) * coalesce(u.carbon_content_tc_per_gj, d.cc)
               * coalesce(u.oxidation_rate, d.ofr) * 44.0 / 12.0 * 1000.0) AS kg,
           sum(share * coalesce(u.ncv_gj_per_t, d.ncv) * 1e6 / {factors.KJ_PER_KGCE}) AS kgce
    FROM fuel_use u JOIN fuel_defaults d ON d.fuel = u.fuel
    JOIN generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 hour',
                         interval '1 hour') AS h(hour_start)
      ON u.valid_from < h.hour_start + interval '1 hour' AND u.valid_to > h.hour_start
    CROSS JOIN LATERAL (
        SELECT u.amount_t * extract(epoch FROM least(u.valid_to, h.hour_start + interval '1 hour')
                                              - greatest(u.valid_from, h.hour_start))
               / extract(epoch FROM u.valid_to - u.valid_from) AS share
    ) s
    WHERE u.park_id = :park_id
    GROUP BY h.hour_start, u.enterprise_id
)"""
# Added to the enterprise's row of the hour and to the park's (the fuel crossed the park's
# boundary when it was delivered), created where the hour had none.
FUEL_USE_SQL = text(
    f"""
WITH {FUEL_USE_CTE}, rows AS (
    SELECT hour_start, enterprise_id, kg, kgce FROM fuel_hours
    UNION ALL
    SELECT hour_start, NULL, sum(kg), sum(kgce) FROM fuel_hours GROUP BY hour_start
)
INSERT INTO emission_hourly (park_id, enterprise_id, hour_start, electricity_kwh, gas_m3, heat_gj,
                             scope1_kg, scope2_kg, scope2_market_kg, green_kwh, non_fossil_kwh,
                             energy_tce, energy_tce_equivalent)
SELECT :park_id, enterprise_id, hour_start, 0, 0, 0, kg, 0, 0, 0, 0, kgce / 1000.0, kgce / 1000.0
FROM rows
ON CONFLICT ON CONSTRAINT uq_emission_entity_hour DO UPDATE SET
    scope1_kg = emission_hourly.scope1_kg + EXCLUDED.scope1_kg,
    energy_tce = emission_hourly.energy_tce + EXCLUDED.energy_tce,
    energy_tce_equivalent = emission_hourly.energy_tce_equivalent + EXCLUDED.energy_tce_equivalent
"""
)
FUEL_DEFAULTS = orjson.dumps(
    [
        {"fuel": f.code, "ncv": f.ncv_gj_per_unit, "cc": f.carbon_content_tc_per_gj, "ofr": f.oxidation_rate}
        for f in factors.FUELS.values()
        if f.code in factors.REPORTED_FUELS
    ]
).decode()


def compute_emissions(
    session: Session,
    park_id: int,
    start: datetime,
    end: datetime,
    grid: Coefficient,
    residual: Coefficient,
    electricity_equivalent_kgce_per_kwh: float = factors.ELECTRICITY_KGCE_PER_KWH_EQUIVALENT.value,
    export_treatment: ExportTreatment = "net_purchase",
) -> dict[datetime, float]:
    """Recompute enterprise and park emissions for hours in [start, end). Idempotent. Returns
    per hour the enterprises' location-based electricity CO2 (before battery losses), for the
    hour's balance."""
    params = {
        "park_id": park_id,
        "lo": start,
        "hi": end,
        "gas_ef": factors.gas_emission_kg_per_m3(),
        "grid_ef": grid.value,
        "residual_ef": residual.value,
        "heat_ef": factors.HEAT_KG_PER_GJ.value,
        "el_ce": factors.ELECTRICITY_KGCE_PER_KWH.value,
        "el_ce_eq": electricity_equivalent_kgce_per_kwh,
        "export_treatment": export_treatment,
        "gas_ce": factors.NATURAL_GAS_KGCE_PER_M3.value,
        "heat_ce": factors.HEAT_KGCE_PER_GJ.value,
    }
    clear_hours(session, "emission_hourly", start, end, park_id)
    own_generation = bool(session.execute(OWN_GENERATION_SQL, params).scalar_one())
    allocated_kg = {
        row.hour_start: float(row.kg or 0.0)
        for row in session.execute(ENTERPRISE_EMISSIONS_SQL[own_generation], params)
    }
    session.execute(STORAGE_LOSSES_SQL, params)
    session.execute(PARK_EMISSIONS_SQL, params)
    session.execute(FUEL_USE_SQL, {**params, "fuels": FUEL_DEFAULTS})
    return allocated_kg


# One meter's hours: its energy, the factor applied and the emissions that follow, by the
# rules of the enterprise rows above (an enterprise's rows are sums over its meters).
METER_EMISSIONS_SQL = text(
    f"""
WITH {VERIFIED_GAS_CTE}, energy AS (
    SELECT ie.hour_start, m.role, m.bus_id, m.green_supply, m.enterprise_id,
           sum(CASE WHEN ie.quantity = 'energy_export_kwh' THEN -ie.value ELSE ie.value END) AS value,
           coalesce(sum(ie.value) FILTER (WHERE ie.quantity <> 'energy_export_kwh'), 0) AS imported,
           ({QUALITY_RANK})[max(array_position({QUALITY_RANK}, ie.quality::text))] AS quality
    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
    WHERE m.id = :meter_id AND ie.hour_start >= :lo AND ie.hour_start < :hi
      AND ((m.carrier = 'electricity' AND ie.quantity IN ('energy_import_kwh', 'energy_export_kwh'))
           OR (m.role = 'gas' AND ie.quantity = 'volume_m3') OR (m.role = 'heat' AND ie.quantity = 'heat_gj'))
    GROUP BY ie.hour_start, m.role, m.bus_id, m.green_supply, m.enterprise_id
)
SELECT e.hour_start, e.value, e.quality,
       CASE WHEN e.role = 'gas' THEN coalesce(vg.kg_per_m3, :gas_ef)
            WHEN e.role = 'heat' THEN :heat_ef
            WHEN e.green_supply THEN 0.0
            ELSE coalesce(bf.factor_kg_per_kwh, pf.factor_kg_per_kwh, :grid_ef) END AS factor,
       e.role, e.imported
FROM energy e
LEFT JOIN verified_gas vg ON vg.enterprise_id = e.enterprise_id AND vg.hour_start = e.hour_start
LEFT JOIN carbon_factor_hourly bf
  ON bf.park_id = :park_id AND bf.bus_id = e.bus_id AND bf.hour_start = e.hour_start
LEFT JOIN carbon_factor_hourly pf
  ON pf.park_id = :park_id AND pf.bus_id IS NULL AND pf.hour_start = e.hour_start
ORDER BY e.hour_start
"""
)


def meter_emissions(
    session: Session, park_id: int, meter_id: int, start: datetime, end: datetime, grid: Coefficient
) -> list[dict[str, object]]:
    """Hourly energy, factor and emissions of one meter (kWh, m³ or GJ; kgCO2)."""
    rows = session.execute(
        METER_EMISSIONS_SQL,
        {
            "park_id": park_id,
            "meter_id": meter_id,
            "lo": start,
            "hi": end,
            "gas_ef": factors.gas_emission_kg_per_m3(),
            "grid_ef": grid.value,
            "heat_ef": factors.HEAT_KG_PER_GJ.value,
        },
    ).all()
    return [
        {
            "hour_start": hour,
            "value": value,
            "quality": quality,
            "factor": factor,
            "scope1_kg": value * factor if role == "gas" else 0.0,
            # what it took from the grid; an export is no credit (it entered the node's mix)
            "scope2_kg": 0.0 if role == "gas" else imported * factor,
        }
        for hour, value, quality, factor, role, imported in rows
    ]
