"""The read side of data quality: every meter's health as the minute evaluator knows it
(freshness, frozen value, yesterday's completeness, calibration), for the 数据质量 page and
the enterprise detail page. Scoped by park and, for an enterprise, by its own meters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.completeness import COMPLETENESS_RULE

SILENT_AFTER = timedelta(minutes=15)
FROZEN_AFTER = timedelta(minutes=60)

METER_HEALTH_SQL = text(
    """
SELECT m.id, m.code, m.name, m.role::text AS role, m.enterprise_id, e.name AS enterprise,
       m.calibration_valid_until,
       s.last_reading_at, s.watched_since, s.probe_value, s.probe_since,
       c.received, c.reconciled,
       cardinality(m.quantities) * 86400.0 / m.reading_interval_s AS expected
FROM meter m
LEFT JOIN enterprise e ON e.id = m.enterprise_id
LEFT JOIN meter_status s ON s.meter_id = m.id
LEFT JOIN reading_count_daily c ON c.meter_id = m.id AND c.day = :yesterday
WHERE m.park_id = :park_id AND m.retired_at IS NULL AND NOT m.virtual
  AND (CAST(:enterprise_id AS int) IS NULL OR m.enterprise_id = :enterprise_id)
ORDER BY m.code
"""
)


@dataclass(frozen=True, slots=True)
class MeterHealth:
    id: int
    code: str
    name: str
    role: str
    enterprise_id: int | None
    enterprise: str | None
    last_reading_at: datetime | None
    silent_minutes: float | None
    frozen_minutes: float | None
    completeness: float | None  # yesterday, received ÷ expected, at most 1 (None: not yet counted)
    calibration_valid_until: date | None
    calibration_overdue: bool

    @property
    def silent(self) -> bool:
        return self.silent_minutes is not None and self.silent_minutes >= SILENT_AFTER.total_seconds() / 60

    @property
    def frozen(self) -> bool:
        return self.frozen_minutes is not None and self.frozen_minutes >= FROZEN_AFTER.total_seconds() / 60

    @property
    def incomplete(self) -> bool:
        return self.completeness is not None and self.completeness < COMPLETENESS_RULE


def meter_health(
    session: Session, park_id: int, today: date, now: datetime, enterprise_id: int | None = None
) -> list[MeterHealth]:
    rows = session.execute(
        METER_HEALTH_SQL,
        {"park_id": park_id, "enterprise_id": enterprise_id, "yesterday": today - timedelta(days=1)},
    )
    out = []
    for r in rows:
        seen = r.last_reading_at or r.watched_since
        frozen = None
        if (
            r.probe_since is not None
            and r.probe_value != 0  # idle at zero is not frozen (metrics: stale_minutes)
            and r.last_reading_at is not None
            and now - r.last_reading_at < SILENT_AFTER
        ):
            frozen = (r.last_reading_at - r.probe_since).total_seconds() / 60
        out.append(
            MeterHealth(
                id=r.id,
                code=r.code,
                name=r.name,
                role=r.role,
                enterprise_id=r.enterprise_id,
                enterprise=r.enterprise,
                last_reading_at=r.last_reading_at,
                silent_minutes=(now - seen).total_seconds() / 60 if seen else None,
                frozen_minutes=frozen,
                completeness=(min(float(r.received) / float(r.expected), 1.0) if r.expected else 1.0)
                if r.reconciled
                else None,
                calibration_valid_until=r.calibration_valid_until,
                calibration_overdue=r.calibration_valid_until is not None
                and r.calibration_valid_until < today,
            )
        )
    return out


def enterprise_completeness(meters: list[MeterHealth]) -> dict[int, float]:
    """Yesterday's completeness per enterprise from its meters' health (a meter's surplus
    does not make up for another's shortfall: each meter counts at most 100 %)."""
    totals: dict[int, list[float]] = {}
    for m in meters:
        if m.enterprise_id is not None and m.completeness is not None:
            totals.setdefault(m.enterprise_id, []).append(m.completeness)
    return {e: sum(v) / len(v) for e, v in totals.items()}
