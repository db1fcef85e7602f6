"""Zero-carbon park indicators over a period, and the park's scorecard against tiers.

- 单位能耗碳排放 (tCO2/tce) = park CO2 (scope 1 + location-based scope 2) ÷ comprehensive
  energy consumption (910号 附件 core indicator), on the 当量值 basis by default
  (GB/T 2589-2020: 综合能耗 counts electricity at its calorific value) or 等价值
  (``PARKCARBON_INDICATOR_ENERGY_BASIS=equivalent``); both values are reported.
- 非化石能源消费占比 = non-fossil electricity (green line, PV, wind, certified) ÷ energy,
  and 清洁能源消费占比 adds natural gas; both on the 等价值 basis, as China's energy
  statistics count primary electricity at the thermal coal rate (so a kWh of PV weighs
  what the coal it displaces would).
- 平台企业覆盖率: the mean of the hourly count-based ratio, and the energy-weighted ratio
  Σ metered enterprise kWh ÷ Σ park kWh over the period.
- 储能配置比例 = storage capacity (kWh) ÷ average daily electricity use (seed §5.5: ≥ 10 %).

Thresholds live in ``indicator_threshold`` (seeded by migration 0005 with their sources);
a park's own rows replace the defaults for the same indicator and tier.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors

EnergyBasis = Literal["calorific", "equivalent"]

PERIOD_SQL = text(
    """
SELECT count(*) AS hours,
       coalesce(sum(scope1_kg + scope2_kg), 0) / 1000.0 AS emissions_t,
       coalesce(sum(scope1_kg + scope2_market_kg), 0) / 1000.0 AS emissions_market_t,
       coalesce(sum(energy_tce), 0) AS energy_tce,
       coalesce(sum(energy_tce_equivalent), 0) AS energy_tce_equivalent,
       coalesce(sum(electricity_kwh), 0) AS electricity_kwh,
       coalesce(sum(non_fossil_kwh), 0) AS non_fossil_kwh,
       coalesce(sum(gas_m3), 0) AS gas_m3
FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NULL AND hour_start >= :lo AND hour_start < :hi
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
class Indicators:
    start: datetime
    end: datetime
    hours: int
    emissions_t: float  # scope 1 + location-based scope 2
    emissions_market_t: float  # scope 1 + market-based scope 2
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
) -> Indicators:
    params = {"park_id": park_id, "lo": start, "hi": end}
    p = session.execute(PERIOD_SQL, params).one()
    cov = session.execute(COVERAGE_SQL, params).one()
    capacity = float(session.execute(STORAGE_SQL, params).scalar_one())
    non_fossil_tce = p.non_fossil_kwh * electricity_equivalent_kgce_per_kwh / 1000.0
    gas_tce = p.gas_m3 * factors.NATURAL_GAS_KGCE_PER_M3.value / 1000.0
    daily = p.electricity_kwh * 24.0 / p.hours if p.hours else None
    by_basis = {
        "calorific": _ratio(p.emissions_t, p.energy_tce),
        "equivalent": _ratio(p.emissions_t, p.energy_tce_equivalent),
    }
    return Indicators(
        start=start,
        end=end,
        hours=int(p.hours),
        emissions_t=float(p.emissions_t),
        emissions_market_t=float(p.emissions_market_t),
        energy_tce=float(p.energy_tce),
        energy_tce_equivalent=float(p.energy_tce_equivalent),
        annual_energy_tce=(p.energy_tce * 8760.0 / p.hours) if p.hours else None,
        energy_basis=basis,
        carbon_per_energy=by_basis[basis],
        carbon_per_energy_calorific=by_basis["calorific"],
        carbon_per_energy_equivalent=by_basis["equivalent"],
        clean_energy_share=_ratio(non_fossil_tce + gas_tce, p.energy_tce_equivalent),
        non_fossil_share=_ratio(non_fossil_tce, p.energy_tce_equivalent),
        enterprise_coverage=None if cov.coverage_ratio is None else float(cov.coverage_ratio),
        enterprise_coverage_energy=None
        if cov.energy_weighted_ratio is None
        else float(cov.energy_weighted_ratio),
        storage_capacity_kwh=capacity,
        average_daily_kwh=daily,
        storage_ratio=_ratio(capacity, daily) if daily is not None else None,
    )


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
        if (t.annual_tce_min is not None or t.annual_tce_max is not None) and annual is None:
            continue
        if t.annual_tce_min is not None and annual is not None and annual < t.annual_tce_min:
            continue
        if t.annual_tce_max is not None and annual is not None and annual >= t.annual_tce_max:
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
