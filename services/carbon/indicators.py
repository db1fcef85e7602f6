"""Zero-carbon park indicators over a period, and the park's scorecard against tiers.

- 单位能耗碳排放 (tCO2/tce) = park CO2 (scope 1 + location-based scope 2) ÷ comprehensive
  energy consumption (910号 附件 core indicator), under the park's configured policies
  (policies.py: export treatment, green-power deduction, energy basis 当量值/等价值), and
  on every combination of them (``policy_variants``), each judged against the size tier
  that applies on its own energy basis.
- 非化石能源消费占比 = non-fossil electricity (green line, PV, wind, certified) ÷ energy,
  and 清洁能源消费占比 adds natural gas; both on the 等价值 basis, as China's energy
  statistics count primary electricity at the thermal coal rate (so a kWh of PV weighs
  what the coal it displaces would).
- 平台企业覆盖率: the mean of the hourly count-based ratio, and the energy-weighted ratio
  Σ metered enterprise kWh ÷ Σ park kWh over the period.
- 储能配置比例 = storage capacity (kWh) ÷ average daily electricity use (seed §5.5: ≥ 10 %).
- 可利用建筑屋顶光伏覆盖率 = roof area under PV ÷ usable roof area, of the park's own
  buildings and its enterprises' (register; seed §5.5: ≥ 90 %).
- 电力需求响应能力 ÷ 最大用电负荷 = the demand-response capability registered (kW) ÷ the
  period's peak load (seed §5.5: ≥ 10 %). The peak is the highest hourly mean load the engine
  keeps (an hour's kWh = its mean kW); a 15-minute maximum demand is higher, so the ratio is
  an upper bound of the one a utility's demand meter would give.

Thresholds live in ``indicator_threshold`` (seeded by migration 0005 with their sources);
a park's own rows replace the defaults for the same indicator and tier.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.certificates import CertificateMatching, green_matching
from services.carbon.policies import (
    ENERGY_BASES,
    EXPORT_TREATMENTS,
    GREEN_DEDUCTIONS,
    EnergyBasis,
    ExportTreatment,
    GreenDeduction,
)

PERIOD_SQL = text(
    """
SELECT count(*) AS hours,
       coalesce(sum(scope1_kg + scope2_kg), 0) / 1000.0 AS emissions_t,
       coalesce(sum(scope1_kg + scope2_market_kg), 0) / 1000.0 AS emissions_market_t,
       coalesce(sum(energy_tce), 0) AS energy_tce,
       coalesce(sum(energy_tce_equivalent), 0) AS energy_tce_equivalent,
       coalesce(sum(electricity_kwh), 0) AS electricity_kwh,
       coalesce(sum(non_fossil_kwh), 0) AS non_fossil_kwh,
       coalesce(sum(gas_m3), 0) AS gas_m3,
       coalesce(sum(scope1_kg), 0) AS scope1_kg,
       coalesce(sum(heat_gj), 0) AS heat_gj,
       coalesce(sum(green_kwh), 0) AS green_kwh,
       max(electricity_kwh) AS peak_kw  -- an hour's kWh: its mean load
FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NULL AND hour_start >= :lo AND hour_start < :hi
"""
)

# Roofs and demand response from the register: the park's own buildings and its live
# enterprises' (:enterprise_id: that enterprise's only). NULL where none is registered.
ROOFS_SQL = text(
    """
SELECT sum(roof_area_usable_m2) AS usable_m2, sum(roof_pv_area_m2) AS pv_m2,
       sum(demand_response_kw) AS demand_response_kw
FROM (
    SELECT roof_area_usable_m2, roof_pv_area_m2, demand_response_kw FROM park
    WHERE id = :park_id AND CAST(:enterprise_id AS int) IS NULL
    UNION ALL
    SELECT roof_area_usable_m2, roof_pv_area_m2, demand_response_kw FROM enterprise
    WHERE park_id = :park_id AND retired_at IS NULL
      AND (CAST(:enterprise_id AS int) IS NULL OR id = :enterprise_id)
) owners
"""
)

# What the export treatments and the green deduction need, from the park's factor rows, and
# what its enterprises were allocated (the "sum of its parts").
POLICY_INPUTS_SQL = text(
    """
SELECT coalesce(sum((inputs->>'grid_import_kwh')::float8), 0) AS imp,
       -- at each hour's own grid factor (grid_ladder.py)
       coalesce(sum((inputs->>'grid_import_kwh')::float8 * (inputs->>'grid_factor_kg_per_kwh')::float8), 0)
           AS imp_kg,
       coalesce(sum((inputs->>'grid_export_kwh')::float8 * (inputs->>'grid_factor_kg_per_kwh')::float8), 0)
           AS exp_grid_kg,
       coalesce(sum((inputs->'balance'->>'export_kg')::float8), 0) AS exp_kg,
       coalesce(sum((inputs->>'green_import_kwh')::float8), 0) AS green_line_kwh,
       coalesce(sum(public_kg), 0) AS public_kg,
       coalesce(sum((inputs->'balance'->>'storage_change_kg')::float8), 0) AS storage_kg,
       (SELECT coalesce(sum(scope1_kg + scope2_kg), 0) FROM emission_hourly
        WHERE park_id = :park_id AND enterprise_id IS NOT NULL AND hour_start >= :lo AND hour_start < :hi)
           AS enterprises_kg
FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
"""
)

COVERAGE_SQL = text(
    """
SELECT avg(c.coverage_ratio) AS coverage_ratio,
       sum(c.energy_weighted_ratio * e.electricity_kwh) / nullif(sum(e.electricity_kwh)
           FILTER (WHERE c.energy_weighted_ratio IS NOT NULL), 0) AS energy_weighted_ratio
FROM coverage_hourly c
LEFT JOIN emission_hourly e
  ON e.park_id = c.park_id AND e.enterprise_id IS NULL AND e.hour_start = c.hour_start
WHERE c.park_id = :park_id AND c.hour_start >= :lo AND c.hour_start < :hi
"""
)

STORAGE_SQL = text(
    "SELECT coalesce(sum(storage_capacity_kwh), 0) FROM meter "
    "WHERE park_id = :park_id AND role = 'storage' AND active"
)

# The guiding indicators enterprises report monthly (services/reports/): sums over the
# accepted, live reports of the months starting in the period, in the park's calendar.
REPORTED_SQL = text(
    """
WITH r AS (
    SELECT body FROM enterprise_report
    WHERE park_id = :park_id AND status = 'accepted'
      AND (CAST(:enterprise_id AS int) IS NULL OR enterprise_id = :enterprise_id)
      AND period >= (CAST(:lo AS timestamptz) AT TIME ZONE :tz)::date
      AND period < (CAST(:hi AS timestamptz) AT TIME ZONE :tz)::date
), products AS (
    SELECT (p->>'energy_kgce')::float8 / nullif((p->>'quantity')::float8, 0) AS unit_kgce,
           (p->>'grade2_kgce_per_unit')::float8 AS grade2
    FROM r CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.body->'output'->'products', '[]')) AS p
)
SELECT (SELECT count(*) FROM r) AS reports,
       (SELECT sum((body->'solid_waste'->>'generated_t')::float8) FROM r) AS waste_generated_t,
       (SELECT sum((body->'solid_waste'->>'utilised_t')::float8) FROM r) AS waste_utilised_t,
       (SELECT sum((body->'waste_energy'->>'available_gj')::float8) FROM r) AS waste_energy_available_gj,
       (SELECT sum((body->'waste_energy'->>'recovered_gj')::float8) FROM r) AS waste_energy_recovered_gj,
       (SELECT sum((body->'water'->>'use_t')::float8) FROM r) AS water_use_t,
       (SELECT sum((body->'water'->>'reuse_t')::float8) FROM r) AS water_reuse_t,
       (SELECT count(*) FROM products WHERE grade2 IS NOT NULL AND unit_kgce IS NOT NULL) AS products_judged,
       (SELECT count(*) FROM products WHERE unit_kgce <= grade2) AS products_at_grade2
"""
)

THRESHOLDS_SQL = text(
    """
SELECT DISTINCT ON (indicator, tier, coalesce(annual_tce_min, -1))
       indicator, tier, comparator, value, unit, annual_tce_min, annual_tce_max, source, verified,
       park_id IS NOT NULL AS park_specific
FROM indicator_threshold
WHERE park_id = :park_id OR park_id IS NULL
ORDER BY indicator, tier, coalesce(annual_tce_min, -1), park_id NULLS LAST
"""
)


@dataclass(frozen=True, slots=True)
class PolicyVariant:
    """单位能耗碳排放 under one combination of the park's accounting policies."""

    export_treatment: ExportTreatment
    green_deduction: GreenDeduction
    energy_basis: EnergyBasis
    emissions_t: float
    energy_tce: float
    annual_energy_tce: float | None
    carbon_per_energy: float | None  # tCO2/tce
    threshold: float | None  # of the size tier that applies on this basis
    threshold_source: str | None
    met: bool | None
    configured: bool  # the park's own choice


@dataclass(frozen=True, slots=True)
class Indicators:
    start: datetime
    end: datetime
    hours: int
    emissions_t: float  # scope 1 + location-based scope 2
    emissions_market_t: float  # scope 1 + market-based scope 2 (certificates matched as configured)
    energy_tce: float  # 当量值
    energy_tce_equivalent: float  # 等价值
    annual_energy_tce: float | None  # the period's energy scaled to a year (tier applicability)
    energy_basis: EnergyBasis
    carbon_per_energy: float | None  # tCO2/tce on ``energy_basis``
    carbon_per_energy_calorific: float | None
    carbon_per_energy_equivalent: float | None
    clean_energy_share: float | None
    non_fossil_share: float | None
    enterprise_coverage: float | None
    enterprise_coverage_energy: float | None
    storage_capacity_kwh: float
    average_daily_kwh: float | None
    storage_ratio: float | None
    export_treatment: ExportTreatment
    green_deduction: GreenDeduction
    # the park's total against the sum of what its enterprises, public load and batteries were
    # allocated: differs by the export treatment, the CHP fuel's heat share, verified gas
    # parameters against the boundary's defaults, energy in transit in batteries
    sum_of_parts_t: float
    park_minus_parts_t: float
    policy_variants: list[PolicyVariant]
    # from the enterprises' accepted monthly reports (None: nothing reported to judge)
    reports_accepted: int = 0
    solid_waste_utilisation: float | None = None  # utilised ÷ generated
    waste_energy_utilisation: float | None = None  # recovered ÷ available
    water_reuse: float | None = None  # reused ÷ total use (GB/T 7119 重复利用率)
    products_at_grade2_share: float | None = None  # products at or below their grade-2 value
    # from the register (None: nothing registered to judge)
    roof_area_usable_m2: float | None = None
    rooftop_pv_coverage: float | None = None  # roof area under PV ÷ usable roof area
    peak_load_kw: float | None = None  # the highest hourly mean load of the period
    demand_response_kw: float | None = None
    demand_response_ratio: float | None = None  # capability ÷ peak load

    def value_of(self, indicator: str) -> float | None:
        value = asdict(self).get(indicator)
        return value if isinstance(value, float) else None


def _optional(value: float | None) -> float | None:
    return None if value is None else float(value)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def compute_indicators(
    session: Session,
    park_id: int,
    start: datetime,
    end: datetime,
    basis: EnergyBasis = "calorific",
    electricity_equivalent_kgce_per_kwh: float = factors.ELECTRICITY_KGCE_PER_KWH_EQUIVALENT.value,
    export_treatment: ExportTreatment = "net_purchase",
    green_deduction: GreenDeduction = "none",
    certificate_matching: CertificateMatching = "annual",
) -> Indicators:
    params = {"park_id": park_id, "lo": start, "hi": end}
    p = session.execute(PERIOD_SQL, params).one()
    q = session.execute(POLICY_INPUTS_SQL, params).one()
    cov = session.execute(COVERAGE_SQL, params).one()
    capacity = float(session.execute(STORAGE_SQL, params).scalar_one())
    # the period's import-weighted grid factor, for certificates that match the period as a whole
    grid_ef = q.imp_kg / q.imp if q.imp > 0 else 0.0
    non_fossil_tce = p.non_fossil_kwh * electricity_equivalent_kgce_per_kwh / 1000.0
    gas_tce = p.gas_m3 * factors.NATURAL_GAS_KGCE_PER_M3.value / 1000.0
    daily = p.electricity_kwh * 24.0 / p.hours if p.hours else None
    thresholds = [t for t in session.execute(THRESHOLDS_SQL, params) if t.indicator == "carbon_per_energy"]

    scope2_by_export = {
        "net_purchase": q.imp_kg - q.exp_grid_kg,
        "mix": q.imp_kg - q.exp_kg,
        "gross_import": q.imp_kg,
    }
    park_matching = next(
        (m for m in green_matching(session, park_id, start, end) if m.enterprise_id is None), None
    )
    certified_kwh = 0.0
    if park_matching is not None:
        certified_kwh = (
            park_matching.matched_annual_kwh
            if certificate_matching == "annual"
            else park_matching.matched_hourly_kwh
        )
    energy_by_basis = {"calorific": p.energy_tce, "equivalent": p.energy_tce_equivalent}
    el_kgce = {
        "calorific": factors.ELECTRICITY_KGCE_PER_KWH.value,
        "equivalent": electricity_equivalent_kgce_per_kwh,
    }
    heat_kg = p.heat_gj * factors.HEAT_KG_PER_GJ.value
    variants = []
    for export in EXPORT_TREATMENTS:
        for deduction in GREEN_DEDUCTIONS:
            for energy_basis in ENERGY_BASES:
                kg = p.scope1_kg + scope2_by_export[export] + heat_kg
                tce = energy_by_basis[energy_basis]
                if deduction != "none":
                    kg -= certified_kwh * grid_ef
                if deduction == "certificates_and_renewables":
                    tce -= p.non_fossil_kwh * el_kgce[energy_basis] / 1000.0
                annual = tce * 8760.0 / p.hours if p.hours else None
                line = tier_line(thresholds, annual)
                ratio = _ratio(kg / 1000.0, tce)
                variants.append(
                    PolicyVariant(
                        export_treatment=export,
                        green_deduction=deduction,
                        energy_basis=energy_basis,
                        emissions_t=kg / 1000.0,
                        energy_tce=tce,
                        annual_energy_tce=annual,
                        carbon_per_energy=ratio,
                        threshold=None if line is None else float(line.value),
                        threshold_source=None if line is None else line.source,
                        met=None
                        if line is None or ratio is None
                        else COMPARATORS[line.comparator](ratio, line.value),
                        configured=(export, deduction, energy_basis)
                        == (export_treatment, green_deduction, basis),
                    )
                )

    def chosen(energy_basis: EnergyBasis) -> PolicyVariant:
        return next(
            v
            for v in variants
            if (v.export_treatment, v.green_deduction, v.energy_basis)
            == (export_treatment, green_deduction, energy_basis)
        )

    sum_of_parts_t = (q.enterprises_kg + q.public_kg + q.storage_kg) / 1000.0
    market_t = float(p.emissions_market_t)
    if certificate_matching == "annual" and park_matching is not None:  # rows hold the hourly matching
        market_t += (park_matching.market_kg_annual - park_matching.market_kg_hourly) / 1000.0
    return Indicators(
        start=start,
        end=end,
        hours=int(p.hours),
        emissions_t=float(p.emissions_t),
        emissions_market_t=market_t,
        energy_tce=float(p.energy_tce),
        energy_tce_equivalent=float(p.energy_tce_equivalent),
        annual_energy_tce=chosen(basis).annual_energy_tce,
        energy_basis=basis,
        carbon_per_energy=chosen(basis).carbon_per_energy,
        carbon_per_energy_calorific=chosen("calorific").carbon_per_energy,
        carbon_per_energy_equivalent=chosen("equivalent").carbon_per_energy,
        clean_energy_share=_ratio(non_fossil_tce + gas_tce, p.energy_tce_equivalent),
        non_fossil_share=_ratio(non_fossil_tce, p.energy_tce_equivalent),
        enterprise_coverage=None if cov.coverage_ratio is None else float(cov.coverage_ratio),
        enterprise_coverage_energy=None
        if cov.energy_weighted_ratio is None
        else float(cov.energy_weighted_ratio),
        storage_capacity_kwh=capacity,
        average_daily_kwh=daily,
        storage_ratio=_ratio(capacity, daily) if daily is not None else None,
        export_treatment=export_treatment,
        green_deduction=green_deduction,
        sum_of_parts_t=sum_of_parts_t,
        park_minus_parts_t=float(p.emissions_t) - sum_of_parts_t,
        policy_variants=variants,
        **_reported(session, park_id, start, end),
        **_roofs_and_demand_response(session, park_id, None, p.peak_kw),
    )


def _roofs_and_demand_response(
    session: Session, park_id: int, enterprise_id: int | None, peak_kw: float | None
) -> dict[str, Any]:
    """Rooftop PV coverage and demand response against ``peak_kw``, the park's or one
    enterprise's (register values; None where nothing is registered to judge)."""
    r = session.execute(ROOFS_SQL, {"park_id": park_id, "enterprise_id": enterprise_id}).one()
    usable = _optional(r.usable_m2)
    response = _optional(r.demand_response_kw)
    peak = _optional(peak_kw)
    return {
        "roof_area_usable_m2": usable,
        "rooftop_pv_coverage": None if usable is None else _ratio(float(r.pv_m2 or 0.0), usable),
        "peak_load_kw": peak,
        "demand_response_kw": response,
        "demand_response_ratio": None if response is None or peak is None else _ratio(response, peak),
    }


def _reported(
    session: Session, park_id: int, start: datetime, end: datetime, enterprise_id: int | None = None
) -> dict[str, Any]:
    """The guiding indicators from the accepted reports: the park's, or one enterprise's."""
    timezone = session.execute(text("SELECT timezone FROM park WHERE id = :id"), {"id": park_id}).scalar_one()
    params = {"park_id": park_id, "enterprise_id": enterprise_id, "lo": start, "hi": end, "tz": timezone}
    r = session.execute(REPORTED_SQL, params).one()

    def share(num: float | None, den: float | None) -> float | None:
        return None if num is None or den is None else _ratio(float(num), float(den))

    return {
        "reports_accepted": int(r.reports),
        "solid_waste_utilisation": share(r.waste_utilised_t, r.waste_generated_t),
        "waste_energy_utilisation": share(r.waste_energy_recovered_gj, r.waste_energy_available_gj),
        "water_reuse": share(r.water_reuse_t, r.water_use_t),
        "products_at_grade2_share": share(r.products_at_grade2, r.products_judged)
        if r.products_judged
        else None,
    }


def _applies(line: Any, annual: float | None) -> bool:
    """Whether a threshold line's size band (annual tce, if it has one) holds ``annual``."""
    if line.annual_tce_min is None and line.annual_tce_max is None:
        return True
    if annual is None:
        return False
    return (line.annual_tce_min is None or annual >= line.annual_tce_min) and (
        line.annual_tce_max is None or annual < line.annual_tce_max
    )


def tier_line(thresholds: list[Any], annual: float | None) -> Any | None:
    """The first 单位能耗碳排放 line (by tier) whose size band holds ``annual`` tce/a."""
    return next((t for t in sorted(thresholds, key=lambda t: t.tier) if _applies(t, annual)), None)


COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class ScoreLine:
    indicator: str
    tier: int  # 1 一类 must, 2 二类 where conditions allow, 3 三类 encouraged
    comparator: str
    threshold: float
    unit: str
    value: float | None
    met: bool | None  # None: no data to judge
    source: str
    verified: bool
    park_specific: bool


def scorecard(session: Session, park_id: int, indicators: Indicators) -> list[ScoreLine]:
    """Every threshold that applies to the park's size, judged against the indicators."""
    annual = indicators.annual_energy_tce
    lines = []
    for t in session.execute(THRESHOLDS_SQL, {"park_id": park_id}):
        if not _applies(t, annual):
            continue
        value = indicators.value_of(t.indicator)
        lines.append(
            ScoreLine(
                indicator=t.indicator,
                tier=t.tier,
                comparator=t.comparator,
                threshold=t.value,
                unit=t.unit,
                value=value,
                met=None if value is None else COMPARATORS[t.comparator](value, t.value),
                source=t.source,
                verified=t.verified,
                park_specific=t.park_specific,
            )
        )
    return sorted(lines, key=lambda line: (line.tier, line.indicator))


# An enterprise's energy-based indicators and the park's, over the same hours, one formula
# for both (emission_hourly: the enterprise's rows, the park's own row).
ENTERPRISE_AND_PARK_SQL = text(
    """
SELECT enterprise_id IS NULL AS is_park,
       sum(scope1_kg + scope2_kg) / 1000.0 AS emissions_t, sum(energy_tce) AS energy_tce,
       sum(electricity_kwh) AS kwh, sum(non_fossil_kwh) AS non_fossil_kwh, sum(green_kwh) AS green_kwh,
       max(electricity_kwh) AS peak_kw
FROM emission_hourly
WHERE park_id = :park_id AND (enterprise_id = :enterprise_id OR enterprise_id IS NULL)
  AND hour_start >= :lo AND hour_start < :hi
GROUP BY 1
"""
)
COMPARED = (
    "carbon_per_energy",
    "non_fossil_share",
    "green_share",
    "solid_waste_utilisation",
    "waste_energy_utilisation",
    "water_reuse",
    "products_at_grade2_share",
    "rooftop_pv_coverage",
    "demand_response_ratio",
)


# the indicators judged against the park's own threshold lines for an enterprise too (the
# same definition at either scale)
SHARED_DEFINITION = COMPARED[3:]


@dataclass(frozen=True, slots=True)
class ComparisonLine:
    indicator: str
    enterprise: float | None
    park: float | None
    comparator: str | None  # the guiding indicator's threshold, where the park has one
    threshold: float | None
    source: str | None


def enterprise_against_park(
    session: Session, park_id: int, enterprise_id: int, start: datetime, end: datetime
) -> list[ComparisonLine]:
    """What an enterprise sees of itself against its park: 单位能耗碳排放 (tCO2/tce, 当量值),
    the non-fossil and green shares of its electricity, and the guiding indicators of its
    accepted reports against all accepted reports of the park, with their thresholds."""
    rows = {
        bool(r.is_park): r
        for r in session.execute(
            ENTERPRISE_AND_PARK_SQL,
            {"park_id": park_id, "enterprise_id": enterprise_id, "lo": start, "hi": end},
        )
    }

    def energy(row: Any) -> dict[str, float | None]:
        if row is None:
            return {}
        kwh = float(row.kwh or 0.0)
        return {
            "carbon_per_energy": _ratio(float(row.emissions_t or 0.0), float(row.energy_tce or 0.0)),
            "non_fossil_share": _ratio(float(row.non_fossil_kwh or 0.0), kwh),
            "green_share": _ratio(float(row.green_kwh or 0.0), kwh),
        }

    def peak(row: Any) -> float | None:
        return None if row is None else row.peak_kw

    own = {
        **energy(rows.get(False)),
        **_reported(session, park_id, start, end, enterprise_id),
        **_roofs_and_demand_response(session, park_id, enterprise_id, peak(rows.get(False))),
    }
    park = {
        **energy(rows.get(True)),
        **_reported(session, park_id, start, end),
        **_roofs_and_demand_response(session, park_id, None, peak(rows.get(True))),
    }
    thresholds = {
        t.indicator: t
        for t in session.execute(THRESHOLDS_SQL, {"park_id": park_id})
        if t.indicator in COMPARED
    }
    out = []
    for indicator in COMPARED:
        # only the reported guiding indicators, roofs and demand response share a definition
        # with the park's thresholds: 单位能耗碳排放's are the park's size tiers, and the
        # park's non-fossil share is of all its energy, not of electricity
        t = thresholds.get(indicator) if indicator in SHARED_DEFINITION else None
        out.append(
            ComparisonLine(
                indicator=indicator,
                enterprise=own.get(indicator),
                park=park.get(indicator),
                comparator=t.comparator if t else None,
                threshold=t.value if t else None,
                source=t.source if t else None,
            )
        )
    return out


BASE_YEAR = 2025  # 910号: 零碳园区 construction is judged against the park's 2025 level
# The core indicator month by month since the base year began, in the park's calendar: the
# park's row (:enterprise_id NULL) or one enterprise's.
MONTHLY_CORE_SQL = text(
    """
SELECT date_trunc('month', hour_start AT TIME ZONE :tz)::date AS month,
       sum(scope1_kg + scope2_kg) / 1000.0 AS emissions_t, sum(energy_tce) AS energy_tce, count(*) AS hours
FROM emission_hourly
WHERE park_id = :park_id
  AND (CASE WHEN CAST(:enterprise_id AS int) IS NULL THEN enterprise_id IS NULL
            ELSE enterprise_id = :enterprise_id END)
  AND hour_start >= :lo AND hour_start < :hi
GROUP BY 1 ORDER BY 1
"""
)


@dataclass(frozen=True, slots=True)
class MonthlyCore:
    month: date
    emissions_t: float
    energy_tce: float
    hours: int

    @property
    def carbon_per_energy(self) -> float | None:
        return _ratio(self.emissions_t, self.energy_tce)


@dataclass(frozen=True, slots=True)
class CoreTrend:
    months: list[MonthlyCore]
    base_year_value: float | None  # the 2025 level (None: the platform holds no 2025 hours)
    base_year_hours: int


def core_trend(
    session: Session, park_id: int, timezone: str, end: datetime, enterprise_id: int | None = None
) -> CoreTrend:
    """单位能耗碳排放 (当量值, location-based) per month since January of the base year, and the
    base year's own level from every hour of it the platform holds: the park's, or one
    enterprise's."""
    zone = ZoneInfo(timezone)
    params = {
        "park_id": park_id,
        "enterprise_id": enterprise_id,
        "tz": timezone,
        "lo": datetime(BASE_YEAR, 1, 1, tzinfo=zone),
        "hi": end,
    }
    months = [
        MonthlyCore(r.month, float(r.emissions_t), float(r.energy_tce), int(r.hours))
        for r in session.execute(MONTHLY_CORE_SQL, params)
    ]
    base = [m for m in months if m.month.year == BASE_YEAR]
    return CoreTrend(
        months,
        _ratio(sum(m.emissions_t for m in base), sum(m.energy_tce for m in base)),
        sum(m.hours for m in base),
    )
