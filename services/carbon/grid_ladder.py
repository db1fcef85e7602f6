"""Which grid factor an hour uses: the rung of the hierarchy, stored with the hour.

    hourly feed → provincial (annual) → regional (annual) → national (annual)

An upstream hourly factor imported for the park's region (``grid_factor_feed``: e.g. State
Grid Jiangsu's time- and zone-differentiated factors, by CSV or the API) is used where it
covers the hour. Otherwise the annual factors of the hour's year (park time), the most
specific first (a province, its regional grid, the nation: ``grid_regions.csv``); MEE/NBS
publish a year's factors one to two years late, so until then the latest earlier year
stands in, again most specific first, and ``parkcarbon carbon restate`` recomputes the
hours when the year's own factor appears. The market-based residual mix follows the same
years (national only: MEE/NBS publish it so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.factors import DATA_DIR, Coefficient, UnknownFactor, grid_factor_table, read_rows

Rung = str  # "hourly_feed" | "provincial" | "regional" | "national"


@dataclass(frozen=True, slots=True)
class GridTables:
    """The annual factors and the region tree, from the data files (or a test's own)."""

    annual: dict[tuple[str, str, int], Coefficient]
    parents: dict[str, str | None]

    @classmethod
    def load(cls, directory: Path = DATA_DIR) -> GridTables:
        parents = {row["region"]: row["parent"] or None for row in read_rows("grid_regions.csv", directory)}
        return cls(grid_factor_table(directory), parents)

    def chain(self, region: str) -> list[tuple[str, Rung]]:
        """The park's key and its ancestors, each with its rung."""
        out: list[tuple[str, Rung]] = []
        key: str | None = region
        while key is not None and len(out) < 5:
            parent = self.parents.get(key)
            rung = "national" if parent is None else "regional" if parent == "national" else "provincial"
            out.append((key, rung))
            key = parent
        return out


TABLES = GridTables.load()


@dataclass(frozen=True, slots=True)
class HourFactor:
    """The grid factor of one hour and where it came from."""

    factor: Coefficient
    rung: Rung
    region: str
    year: int | None  # the annual factor's year; None for an hourly feed value
    residual: Coefficient  # residual mix for market-based scope 2 of the same year

    def as_inputs(self) -> dict[str, object]:
        return {
            "grid_factor_kg_per_kwh": self.factor.value,
            "grid_factor_source": self.factor.source,
            "grid_factor_verified": self.factor.verified,
            "grid_factor_rung": self.rung,
            "grid_factor_region": self.region,
            "grid_factor_year": self.year,
            "residual_mix_kg_per_kwh": self.residual.value,
            "residual_mix_source": self.residual.source,
        }


FEED_SQL = text(
    """
SELECT region, hour_start, value_kg_per_kwh, source FROM grid_factor_feed
WHERE region = ANY(:regions) AND hour_start >= :lo AND hour_start < :hi
"""
)


@dataclass(slots=True)
class GridLadder:
    """A park's grid factors for a range of hours."""

    region: str
    timezone: ZoneInfo
    tables: GridTables = TABLES
    feed: dict[datetime, tuple[str, Coefficient]] = field(default_factory=dict)

    @classmethod
    def for_park(
        cls,
        session: Session,
        region: str,
        timezone: str,
        start: datetime,
        end: datetime,
        tables: GridTables = TABLES,
    ) -> GridLadder:
        ladder = cls(region, ZoneInfo(timezone), tables)
        chain = [key for key, _ in tables.chain(region)]
        if not any(key == k for (_, k, _) in tables.annual for key in chain):
            raise UnknownFactor(f"no grid factor for {region!r}; known: {', '.join(sorted(tables.parents))}")
        rows = session.execute(FEED_SQL, {"regions": chain, "lo": start, "hi": end}).all()
        # the most specific region's feed wins where two cover an hour
        rank = {key: i for i, key in enumerate(chain)}
        for row in sorted(rows, key=lambda r: -rank[r.region]):
            ladder.feed[row.hour_start] = (
                row.region,
                Coefficient(float(row.value_kg_per_kwh), "kgCO2/kWh", row.source, True),
            )
        return ladder

    def residual(self, year: int) -> Coefficient:
        return self._annual("residual_mix", [("national", "national")], year)[0]

    def _annual(
        self, kind: str, chain: list[tuple[str, Rung]], year: int
    ) -> tuple[Coefficient, Rung, str, int]:
        for key, rung in chain:  # the hour's own year, most specific first
            found = self.tables.annual.get((kind, key, year))
            if found is not None:
                return found, rung, key, year
        for earlier in range(year - 1, year - 30, -1):  # else the latest published before it
            for key, rung in chain:
                found = self.tables.annual.get((kind, key, earlier))
                if found is not None:
                    return found, rung, key, earlier
        raise UnknownFactor(f"no {kind} factor for {chain[0][0]} in or before {year}")

    def for_hour(self, hour: datetime) -> HourFactor:
        year = hour.astimezone(self.timezone).year
        residual = self.residual(year)
        fed = self.feed.get(hour)
        if fed is not None:
            return HourFactor(fed[1], "hourly_feed", fed[0], None, residual)
        factor, rung, key, used = self._annual("average", self.tables.chain(self.region), year)
        return HourFactor(factor, rung, key, used, residual)
