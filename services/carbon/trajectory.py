"""单位能耗碳排放 year by year against the 2025 base year, and the straight path from the base
year's level to the park's target, for the park or one enterprise.

910号 judges a 零碳园区 against the park's 2025 level (``indicators.BASE_YEAR``); the target
is the park's own 单位能耗碳排放 line (the 910号 size tier that applies to its energy use, or
the line the park set, ``indicator_threshold``), to be reached by ``target_year`` (a park's
choice; 2030 by default, the horizon of 《2030年前碳达峰行动方案》). The path falls linearly
from the base year's level to the target and stays there; a year is on track when its level
is at or below the path. An enterprise is measured on the same path shape from its own base
year's level to the park's target: the park reaches its target only if its enterprises do.

Levels are tCO2 (scope 1 + location-based scope 2) ÷ tce on GB/T 2589 当量值, from the same
hourly rows as every other indicator (``emission_hourly``); a year is the park's local
calendar year, and the running year counts the hours so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.indicators import (
    BASE_YEAR,
    THRESHOLDS_SQL,
    CoreTrend,
    MonthlyCore,
    core_trend,
    tier_line,
)

TARGET_YEAR = 2030

# the park's energy of its newest year (an enterprise's path), for the size tier of its target
PARK_ENERGY_SQL = text(
    """
SELECT sum(energy_tce) AS energy_tce, count(*) AS hours FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NULL AND hour_start >= :lo AND hour_start < :hi
"""
)


@dataclass(frozen=True, slots=True)
class TrajectoryYear:
    year: int
    hours: int  # hours computed in the year (8 760 or 8 784 for a full year)
    emissions_t: float
    energy_tce: float
    carbon_per_energy: float | None  # tCO2/tce
    change_from_base: float | None  # (level − base year's level) ÷ base year's level
    path: float | None  # the level the straight path asks for this year
    on_track: bool | None  # level at or below the path (None: nothing to judge)


@dataclass(frozen=True, slots=True)
class Trajectory:
    enterprise_id: int | None  # None: the park
    base_year: int
    base_value: float | None  # the base year's level (None: no hours of it computed)
    base_year_hours: int
    target_year: int
    target_value: float | None  # the park's 单位能耗碳排放 line
    target_source: str | None
    years: list[TrajectoryYear]


def path_value(base: float, target: float, base_year: int, target_year: int, year: int) -> float:
    """The straight path's level in ``year``: the base year's level falling linearly to the
    target by ``target_year`` and staying there; a level already below the target stays."""
    if base <= target or year >= target_year:
        return min(base, target)
    if year <= base_year:
        return base
    return base + (target - base) * (year - base_year) / (target_year - base_year)


def trajectory(
    session: Session,
    park_id: int,
    timezone: str,
    end: datetime,
    enterprise_id: int | None = None,
    target_year: int = TARGET_YEAR,
    trend: CoreTrend | None = None,
) -> Trajectory:
    """The park's (or ``enterprise_id``'s) level per year from the base year to ``end``: the
    months of its ``core_trend`` summed per year (pass ``trend`` where it was read already)."""
    zone = ZoneInfo(timezone)
    if trend is None:
        trend = core_trend(session, park_id, timezone, end, enterprise_id)
    by_year: dict[int, MonthlyCore] = {}
    for m in trend.months:
        y = by_year.get(m.month.year)
        by_year[m.month.year] = (
            m
            if y is None
            else MonthlyCore(
                y.month, y.emissions_t + m.emissions_t, y.energy_tce + m.energy_tce, y.hours + m.hours
            )
        )
    base_value = trend.base_year_value

    # The target: the park's line for its size, sized on its newest year's energy a year.
    newest_year = end.astimezone(zone).year
    if enterprise_id is None:
        newest = by_year.get(newest_year)
        energy_tce, hours = (newest.energy_tce, newest.hours) if newest else (0.0, 0)
    else:
        since = datetime(newest_year, 1, 1, tzinfo=zone)
        row = session.execute(PARK_ENERGY_SQL, {"park_id": park_id, "lo": since, "hi": end}).one()
        energy_tce, hours = float(row.energy_tce or 0.0), int(row.hours)
    annual = energy_tce * 8760.0 / hours if hours else None
    lines = [
        t for t in session.execute(THRESHOLDS_SQL, {"park_id": park_id}) if t.indicator == "carbon_per_energy"
    ]
    line = tier_line(lines, annual)
    if line is None and lines:  # a size no line names: the strictest line
        line = min(lines, key=lambda t: t.value)
    target = None if line is None else float(line.value)

    years = []
    for year in range(BASE_YEAR, newest_year + 1):
        r = by_year.get(year)
        level = r.carbon_per_energy if r else None
        path = (
            None
            if base_value is None or target is None
            else path_value(base_value, target, BASE_YEAR, target_year, year)
        )
        years.append(
            TrajectoryYear(
                year=year,
                hours=r.hours if r else 0,
                emissions_t=r.emissions_t if r else 0.0,
                energy_tce=r.energy_tce if r else 0.0,
                carbon_per_energy=level,
                change_from_base=None
                if level is None or base_value is None or base_value == 0
                else (level - base_value) / base_value,
                path=path,
                on_track=None if level is None or path is None else level <= path + 1e-12,
            )
        )
    return Trajectory(
        enterprise_id=enterprise_id,
        base_year=BASE_YEAR,
        base_value=base_value,
        base_year_hours=trend.base_year_hours,
        target_year=target_year,
        target_value=target,
        target_source=None if line is None else str(line.source),
        years=years,
    )
