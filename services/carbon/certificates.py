"""Green certificates matched to consumption, annually (the default) or hour by hour.

Chinese 绿证 consumption is claimed per year (发改能源〔2023〕1044号; a GEC records the
month of generation, not the hour), so the default ``annual`` matching lets a certificate's
kWh cover any of its holder's purchased electricity in the same calendar year (park time)
and within its validity: matched = min(certificates, purchased − green line), none lost in
hours of low use. ``hourly`` matching is what the hourly rows store: a certificate spread
evenly over its validity, each hour capped by that hour's purchase. The hourly matching
score ("24/7") is the share of consumption met in the same hour by carbon-free supply
(green line, hourly-spread certificates, own renewable generation): Σ non-fossil ÷ Σ use.

A certificate bundled with a green line (its own GEC) adds no kWh: they are the line's,
already at zero. Both views are computed over any period from the hourly rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.grid_ladder import GridLadder
from services.core.models import Park

CertificateMatching = Literal["annual", "hourly"]

# Per enterprise (NULL: the park) and calendar year of the park: purchase, green line,
# hourly-matched certificates, carbon-free use, use, and market-based scope 2 as stored.
YEARLY_SQL = text(
    """
SELECT enterprise_id, extract(year FROM hour_start AT TIME ZONE :tz)::int AS year,
       sum(imported_kwh) AS imported_kwh, sum(green_kwh - certified_kwh) AS green_line_kwh,
       sum(certified_kwh) AS hourly_kwh, sum(non_fossil_kwh) AS carbon_free_kwh,
       sum(electricity_kwh) AS electricity_kwh, sum(scope2_market_kg) AS market_kg
FROM emission_hourly
WHERE park_id = :park_id AND hour_start >= :lo AND hour_start < :hi
  AND (CAST(:enterprise_id AS int) IS NULL OR enterprise_id = :enterprise_id OR enterprise_id IS NULL)
GROUP BY 1, 2
"""
)
CERTIFICATES_SQL = text(
    """
SELECT enterprise_id, valid_from, valid_to, kwh FROM green_certificate
WHERE park_id = :park_id AND bundled_meter_id IS NULL AND valid_from < :hi AND valid_to > :lo
"""
)


@dataclass(frozen=True, slots=True)
class GreenMatching:
    enterprise_id: int | None  # None: the park (its certificates and those of its enterprises)
    imported_kwh: float
    certificates_kwh: float  # the certificates' kWh falling in the period (by validity)
    matched_annual_kwh: float
    matched_hourly_kwh: float
    hourly_score: float | None  # 24/7: same-hour carbon-free share of use
    market_kg_annual: float
    market_kg_hourly: float


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max((min(a1, b1) - max(a0, b0)).total_seconds(), 0.0)


def green_matching(
    session: Session, park_id: int, start: datetime, end: datetime, enterprise_id: int | None = None
) -> list[GreenMatching]:
    """Both matchings over [start, end), per enterprise (only ``enterprise_id`` when given)
    and for the park."""
    park = session.get(Park, park_id)
    if park is None:
        return []
    tz = ZoneInfo(park.timezone)
    ladder = GridLadder(park.grid_factor_region, tz)
    params = {"park_id": park_id, "lo": start, "hi": end, "tz": park.timezone, "enterprise_id": enterprise_id}
    years: dict[int | None, dict[int, dict[str, float]]] = {}
    for row in session.execute(YEARLY_SQL, params).mappings():
        years.setdefault(row["enterprise_id"], {})[row["year"]] = {k: float(row[k] or 0.0) for k in row}
    certificates = session.execute(CERTIFICATES_SQL, params).all()
    out = []
    for who, by_year in sorted(years.items(), key=lambda item: (item[0] is not None, item[0] or 0)):
        if enterprise_id is not None and who != enterprise_id:
            continue
        held = [c for c in certificates if who is None or c.enterprise_id == who]
        matched = total = annual_correction_kg = 0.0
        for year, sums_of_year in by_year.items():
            y0 = max(datetime(year, 1, 1, tzinfo=tz), start)
            y1 = min(datetime(year + 1, 1, 1, tzinfo=tz), end)
            kwh = sum(
                c.kwh
                * _overlap(c.valid_from, c.valid_to, y0, y1)
                / (c.valid_to - c.valid_from).total_seconds()
                for c in held
            )
            total += kwh
            purchased = sums_of_year["imported_kwh"] - sums_of_year["green_line_kwh"]
            matched_year = min(kwh, max(purchased, 0.0))
            matched += matched_year
            annual_correction_kg += (sums_of_year["hourly_kwh"] - matched_year) * ladder.residual(year).value
        sums = {k: sum(r[k] for r in by_year.values()) for k in ("imported_kwh", "hourly_kwh", "market_kg")}
        use = sum(r["electricity_kwh"] for r in by_year.values())
        carbon_free = sum(r["carbon_free_kwh"] for r in by_year.values())
        out.append(
            GreenMatching(
                enterprise_id=who,
                imported_kwh=sums["imported_kwh"],
                certificates_kwh=total,
                matched_annual_kwh=matched,
                matched_hourly_kwh=sums["hourly_kwh"],
                hourly_score=min(carbon_free / use, 1.0) if use > 0 else None,
                market_kg_annual=sums["market_kg"] + annual_correction_kg,
                market_kg_hourly=sums["market_kg"],
            )
        )
    return out
