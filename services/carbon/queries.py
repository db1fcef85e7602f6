"""The carbon engine's read side: factor feed, hourly series, coverage and the park
overview, each scoped by park."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.coverage import COVERAGE_TARGET, uncovered_enterprises
from services.carbon.schemas import (
    BalanceOut,
    CoverageOut,
    EnterpriseCoverage,
    FactorCatalogue,
    FactorEntry,
    HourlyBalance,
    HourlyEmission,
    HourlyFactor,
    ParkOverview,
)
from services.core.models import Bus, CarbonFactorHourly, CoverageHourly, EmissionHourly, EmissionVersion
from services.core.quantities import POWER_MAX_KW
from services.park import queries as register
from services.park.schemas import EnterpriseOut


def factor_feed(
    session: Session, park_id: int, start: datetime, end: datetime, node: str
) -> list[tuple[str | None, datetime, float | None]]:
    """(bus code or None for the park, hour, kgCO2/kWh) for ``node``: park, a bus code, all."""
    query = (
        select(Bus.code, CarbonFactorHourly.hour_start, CarbonFactorHourly.factor_kg_per_kwh)
        .select_from(CarbonFactorHourly)
        .outerjoin(Bus, Bus.id == CarbonFactorHourly.bus_id)
        .where(
            CarbonFactorHourly.park_id == park_id,
            CarbonFactorHourly.hour_start >= start,
            CarbonFactorHourly.hour_start < end,
        )
        .order_by(Bus.code.nulls_first(), CarbonFactorHourly.hour_start)
    )
    if node == "park":
        query = query.where(CarbonFactorHourly.bus_id.is_(None))
    elif node != "all":
        query = query.where(Bus.code == node)
    return [(code, hour, value) for code, hour, value in session.execute(query).all()]


def _park_hours(park_id: int, start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    """The park's own factor rows (not its buses') for hours in [start, end)."""
    return (
        CarbonFactorHourly.park_id == park_id,
        CarbonFactorHourly.bus_id.is_(None),
        CarbonFactorHourly.hour_start >= start,
        CarbonFactorHourly.hour_start < end,
    )


GRID_KEYS = ("grid_factor_kg_per_kwh", "grid_factor_rung", "grid_factor_source", "grid_factor_verified")
BALANCE_TERMS = ("carbon_in_kg", "export_kg", "storage_change_kg")


def carbon_balance(session: Session, park_id: int, start: datetime, end: datetime) -> BalanceOut:
    """The park's hourly carbon balance over [start, end) (services/carbon/balance.py)."""
    rows = session.execute(
        select(
            CarbonFactorHourly.hour_start,
            CarbonFactorHourly.factor_kg_per_kwh,
            CarbonFactorHourly.inputs["balance"],
            CarbonFactorHourly.enterprises_kg,
            CarbonFactorHourly.public_kg,
            CarbonFactorHourly.conservation_residual_kg,
            # the grid factor the hour used and its rung (grid_ladder.py)
            func.jsonb_build_object(
                *[part for key in GRID_KEYS for part in (key, CarbonFactorHourly.inputs[key])]
            ),
        )
        .where(*_park_hours(park_id, start, end))
        .order_by(CarbonFactorHourly.hour_start)
    ).all()
    hours = [
        HourlyBalance(
            hour_start=hour,
            factor_kg_per_kwh=factor,
            **{term: float((balance or {}).get(term) or 0.0) for term in BALANCE_TERMS},
            enterprises_kg=enterprises or 0.0,
            public_kg=public or 0.0,
            residual_kg=residual,
            grid_factor_kg_per_kwh=grid.get("grid_factor_kg_per_kwh"),
            grid_factor_rung=grid.get("grid_factor_rung"),
            grid_factor_source=grid.get("grid_factor_source"),
            grid_factor_verified=grid.get("grid_factor_verified"),
        )
        for hour, factor, balance, enterprises, public, residual, grid in rows
    ]
    residuals = [h.residual_kg for h in hours if h.residual_kg]
    return BalanceOut(
        hours=hours,
        unbalanced_hours=len(residuals),
        total_residual_kg=sum(residuals),
        largest_residual_kg=max((abs(r) for r in residuals), default=0.0),
    )


def emission_versions(session: Session, park_id: int, limit: int = 50) -> list[EmissionVersion]:
    return list(
        session.scalars(
            select(EmissionVersion)
            .where(EmissionVersion.park_id == park_id)
            .order_by(EmissionVersion.id.desc())
            .limit(limit)
        )
    )


def park_factors(session: Session, park_id: int, start: datetime, end: datetime) -> list[HourlyFactor]:
    rows = session.execute(
        select(CarbonFactorHourly.hour_start, CarbonFactorHourly.factor_kg_per_kwh)
        .where(*_park_hours(park_id, start, end))
        .order_by(CarbonFactorHourly.hour_start)
    ).all()
    return [HourlyFactor(hour_start=h, factor_kg_per_kwh=f) for h, f in rows]


# The columns HourlyEmission shows, read as rows: ORM objects, then validated models, made a
# week of an enterprise's hours cost 4.8 ms of the API's CPU. The columns are exactly the
# model's types (timestamptz, double precision), so the rows need no validation.
HOURLY_EMISSION_FIELDS = list(HourlyEmission.model_fields)
HOURLY_EMISSION_COLUMNS = [getattr(EmissionHourly, name) for name in HOURLY_EMISSION_FIELDS]


def hourly_emission_rows(
    session: Session, park_id: int, enterprise_id: int | None, start: datetime, end: datetime
) -> Sequence[tuple[Any, ...]]:
    """``HourlyEmission``'s columns (``HOURLY_EMISSION_FIELDS``) of one enterprise, or of the
    park where ``enterprise_id`` is None, hour by hour over [start, end)."""
    owner = (
        EmissionHourly.enterprise_id.is_(None)
        if enterprise_id is None
        else EmissionHourly.enterprise_id == enterprise_id
    )
    return (
        session.execute(
            select(*HOURLY_EMISSION_COLUMNS)
            .where(
                EmissionHourly.park_id == park_id,
                owner,
                EmissionHourly.hour_start >= start,
                EmissionHourly.hour_start < end,
            )
            .order_by(EmissionHourly.hour_start)
        )
        .tuples()
        .all()
    )


def hourly_emissions(
    session: Session, park_id: int, enterprise_id: int | None, start: datetime, end: datetime
) -> list[HourlyEmission]:
    fields = HOURLY_EMISSION_FIELDS
    rows = hourly_emission_rows(session, park_id, enterprise_id, start, end)
    return [HourlyEmission.model_construct(**dict(zip(fields, row, strict=True))) for row in rows]


def latest_hour(session: Session, park_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(CoverageHourly.hour_start)).where(CoverageHourly.park_id == park_id)
    )


def coverage(session: Session, park_id: int, at: datetime) -> CoverageOut:
    latest = session.scalar(
        select(CoverageHourly)
        .where(CoverageHourly.park_id == park_id)
        .order_by(CoverageHourly.hour_start.desc())
        .limit(1)
    )
    uncovered = uncovered_enterprises(session, park_id, at)
    by_id = {e.id: e for e in register.enterprises(session, park_id)}
    uncovered_out = [
        EnterpriseCoverage(
            **EnterpriseOut.model_validate(by_id[int(str(u["enterprise_id"]))]).model_dump(),
            covered=False,
            reason=str(u["reason"]),
            last_reading_at=u["last_reading_at"],
        )
        for u in uncovered
    ]
    ratio = latest.coverage_ratio if latest else None
    return CoverageOut(
        hour_start=latest.hour_start if latest else None,
        enterprises_total=latest.enterprises_total if latest else len(by_id),
        enterprises_covered=latest.enterprises_covered if latest else 0,
        coverage_ratio=ratio,
        energy_weighted_ratio=latest.energy_weighted_ratio if latest else None,
        target=COVERAGE_TARGET,
        meets_target=ratio is not None and ratio > COVERAGE_TARGET,
        uncovered=uncovered_out,
    )


CURRENT_LOAD_SQL = text(
    """
SELECT sum(value) FROM (
    SELECT DISTINCT ON (r.meter_id) r.value
    FROM reading r JOIN meter m ON m.id = r.meter_id
    WHERE r.quantity = 'power_kw' AND r.ts > :at - interval '15 minutes' AND r.ts <= :at
      AND abs(r.value) <= :power_max  -- an implausible value must not overflow the sum
      AND m.park_id = :park_id AND m.active AND m.role IN ('grid_import', 'pv')
    ORDER BY r.meter_id, r.ts DESC
) latest
"""
)


def current_load_kw(session: Session, park_id: int, at: datetime) -> float | None:
    """Park load now: grid import power plus on-site PV output (latest within 15 min)."""
    value = session.execute(
        CURRENT_LOAD_SQL, {"park_id": park_id, "at": at, "power_max": POWER_MAX_KW}
    ).scalar()
    return float(value) if value is not None else None


def overview(session: Session, park_id: int, now: datetime) -> ParkOverview:
    the_park = register.park(session, park_id)
    cov = coverage(session, park_id, now)
    uncovered = {e.id: e for e in cov.uncovered}
    listed = [
        uncovered.get(e.id)
        or EnterpriseCoverage(**EnterpriseOut.model_validate(e).model_dump(), covered=True)
        for e in register.enterprises(session, park_id)
    ]
    latest = latest_hour(session, park_id)
    factors = park_factors(session, park_id, now - timedelta(days=7), now)
    last_day = hourly_emissions(session, park_id, None, now - timedelta(hours=24), now)
    return ParkOverview(
        code=the_park.code,
        name=the_park.name,
        grid_factor_region=the_park.grid_factor_region,
        grid_factor_year=the_park.grid_factor_year,
        current_load_kw=current_load_kw(session, park_id, now),
        latest_hour=latest,
        latest_factor_kg_per_kwh=factors[-1].factor_kg_per_kwh if factors else None,
        last_24h_electricity_kwh=sum(e.electricity_kwh for e in last_day),
        last_24h_emissions_kg=sum(e.scope1_kg + e.scope2_kg for e in last_day),
        coverage=cov,
        enterprises=listed,
        carbon_factors=factors,
    )


def factor_catalogue() -> FactorCatalogue:
    """Every factor and coefficient the engine uses, from the data files, with its source."""
    entries = [
        FactorEntry(
            name=f"{kind}/{region}/{year}",
            value=c.value,
            unit=c.unit,
            source=c.source,
            published=c.published,
            verified=c.verified,
        )
        for (kind, region, year), c in sorted(factors.GRID_TABLE.items())
    ]
    entries += [
        FactorEntry(
            name=f"fuel/{f.code}",
            value=f.kg_co2_per_unit,
            unit=f"kgCO2/{f.unit}",
            source=f"{f.source}: NCV {f.ncv_gj_per_unit} GJ/{f.unit}, CC {f.carbon_content_tc_per_gj} tC/GJ, "
            f"OF {f.oxidation_rate}",
            published=None,
            verified=f.verified,
        )
        for f in factors.FUELS.values()
    ]
    entries += [
        FactorEntry(
            name=f"coefficient/{name}",
            value=c.value,
            unit=c.unit,
            source=c.source,
            published=None,
            verified=c.verified,
        )
        for name, c in sorted(factors.COEFFICIENTS.items())
    ]
    return FactorCatalogue(data_version=factors.DATA_VERSION, factors=entries)


ENTERPRISE_TOTALS_SQL = text(
    """
SELECT enterprise_id, sum(electricity_kwh) AS electricity_kwh, sum(scope1_kg) AS scope1_kg,
       sum(scope2_kg) AS scope2_kg, sum(scope2_market_kg) AS scope2_market_kg, sum(energy_tce) AS energy_tce,
       sum(heat_gj) AS heat_gj
FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NOT NULL AND hour_start >= :lo AND hour_start < :hi
GROUP BY enterprise_id
"""
)


def enterprise_totals(
    session: Session, park_id: int, start: datetime, end: datetime
) -> dict[int, dict[str, float]]:
    """Per enterprise over [start, end): electricity (kWh), scope 1, location- and market-based
    scope 2 (kgCO₂), energy (tce), heat bought (GJ)."""
    rows = session.execute(ENTERPRISE_TOTALS_SQL, {"park_id": park_id, "lo": start, "hi": end}).mappings()
    return {
        int(r["enterprise_id"]): {k: float(v or 0) for k, v in r.items() if k != "enterprise_id"}
        for r in rows
    }
