"""``parkcarbon bench alerts``: one evaluation cycle of 10 000 rules over 10 000 meters.

A throw-away database (embedded PostgreSQL or the configured server) with one park of
``meters`` meters behind ``meters / 100`` gateways, each meter reading five quantities a
minute; every tenth meter is the master of the next nine (the master/sub rule has work to
do); the latest hour has interval energy and a park factor. Rules, one per meter (or
gateway): power above a threshold, silence, frozen value, hourly energy, master/sub
imbalance, gateway silence; about 1 % of them breach.

A cycle is measured in its steady state, as the scheduler runs it every minute: a minute of
new readings has arrived since the last cycle. It is reported next to a baseline measured
in the same run on the same data (``scan_s``): one plain scan of each input the cycle reads
(the minute's readings found by arrival, ``meter_status``, the latest hour's energy).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.orm import Session

from services.alerts.evaluation import evaluate
from services.bench.database import bench_database, seed_meters
from services.bench.report import Measure
from services.core.db import libpq_url, make_engine, make_session_factory, unit_of_work
from services.core.settings import Settings


@dataclass(frozen=True, slots=True)
class AlertBenchOptions:
    meters: int = 10_000
    rules: int = 10_000
    repeats: int = 3


# One minute of readings of every meter of the park, arrived at :arrived.
MINUTE_SQL = """
INSERT INTO reading (ts, meter_id, quantity, value, received_at)
SELECT %(ts)s, m.id, q.quantity,
       CASE WHEN q.quantity = 'power_kw' THEN 50 + (m.id * 7 + %(k)s) %% 40 ELSE 1000 + %(k)s END,
       %(arrived)s
FROM meter m CROSS JOIN LATERAL unnest(m.quantities) AS q(quantity)
WHERE m.park_id = %(park)s
"""

SETUP_SQL = [
    """
UPDATE meter m SET parent_meter_id = p.id
FROM meter p
WHERE m.park_id = %(park)s AND p.park_id = %(park)s AND m.id %% 10 <> 0 AND p.id = m.id - m.id %% 10""",
    """
INSERT INTO interval_energy (meter_id, quantity, hour_start, value, covered_seconds, quality)
SELECT id, 'energy_import_kwh', %(hour)s, CASE WHEN id %% 10 = 0 THEN 9 * 10.0 * (1 + (id %% 100 = 0)::int)
                                           ELSE 10.0 END, 3600, 'ok'
FROM meter WHERE park_id = %(park)s""",
    """
INSERT INTO carbon_factor_hourly (park_id, bus_id, hour_start, factor_kg_per_kwh, method, inputs)
VALUES (%(park)s, NULL, %(hour)s, 0.5306, 'bench', '{}')""",
]

# Rules, cycling over metric kinds; thresholds put ~1 % in breach.
RULES_SQL = """
INSERT INTO alert_rule (park_id, name, metric, scope_kind, scope_id, comparison, threshold, for_seconds,
                        severity, labels, enabled, created_by)
SELECT %(park)s, 'bench ' || n, spec.metric, spec.scope_kind, spec.scope_id, spec.comparison,
       spec.threshold, 0, 'warning', '{}', true, 'bench'
FROM generate_series(0, %(rules)s - 1) AS n
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM meter WHERE park_id = %(park)s) m
  ON m.k = n %% %(meters)s
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
        (0, 'meter_power_kw', 'meter', m.id, 'gt', 88.5),
        (1, 'silent_minutes', 'meter', m.id, 'ge', 10.0),
        (2, 'stale_minutes', 'meter', m.id, 'ge', 30.0),
        (3, 'meter_energy_kwh', 'meter', m.id, 'gt', 150.0),
        (4, 'submeter_imbalance_pct', 'meter', m.id, 'gt', 5.0)
    ) AS v(k, metric, scope_kind, scope_id, comparison, threshold)
    WHERE v.k = n %% 5
) spec
"""

SCAN_SQL = [
    "SELECT meter_id, count(*), max(ts), max(value) FROM reading WHERE received_at > %(since)s "
    "GROUP BY meter_id",
    "SELECT count(*), max(last_reading_at), sum(probe_value) FROM meter_status WHERE park_id = %(park)s",
    "SELECT count(*), sum(value) FROM interval_energy WHERE hour_start = %(hour)s",
]


def _minute(url: str, park: int, ts: datetime, k: int) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(MINUTE_SQL, {"ts": ts, "arrived": ts + timedelta(seconds=2), "k": k, "park": park})


def _scan(url: str, park: int, since: datetime, hour: datetime) -> float:
    with psycopg.connect(libpq_url(url)) as conn:
        started = time.perf_counter()
        for sql in SCAN_SQL:
            conn.execute(sql, {"since": since, "park": park, "hour": hour}).fetchall()
        return time.perf_counter() - started


def run_alert_bench(settings: Settings, options: AlertBenchOptions) -> list[Measure]:
    with (
        tempfile.TemporaryDirectory(prefix="parkcarbon-bench-") as tmp,
        bench_database(settings, Path(tmp)) as url,
    ):
        seed_meters(url, options.meters // 100, 100)
        factory = make_session_factory(make_engine(url))
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
        hour = start.replace(minute=0) - timedelta(hours=1)
        with psycopg.connect(libpq_url(url)) as conn:
            park = conn.execute("SELECT id FROM park").fetchone()[0]  # type: ignore[index]
            for sql in SETUP_SQL:
                conn.execute(sql, {"park": park, "hour": hour})
            conn.execute(RULES_SQL, {"park": park, "rules": options.rules, "meters": options.meters})
            rules = conn.execute("SELECT count(*) FROM alert_rule").fetchone()[0]  # type: ignore[index]
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE")  # as a live database's tables are
        for k in range(15):  # a quarter hour of history, folded in by a first cycle
            _minute(url, park, start + timedelta(minutes=k), k)
        # each minute's readings arrive at :02 and the cycle runs at :40 (taking what arrived
        # up to :10, scan.SETTLE): every measured cycle folds in exactly one new minute
        now = start + timedelta(minutes=14, seconds=40)
        with unit_of_work(factory) as session:
            first = evaluate(session, settings, now)
        cycles: list[float] = []
        scans: list[float] = []
        fired = first.fired
        for k in range(15, 15 + options.repeats):
            at = start + timedelta(minutes=k)
            _minute(url, park, at, k)
            now = at + timedelta(seconds=40)
            with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                conn.execute("ANALYZE reading")
            scans.append(_scan(url, park, at, hour))
            with Session(factory.kw["bind"]) as session, session.begin():
                started = time.perf_counter()
                summary = evaluate(session, settings, now)
                cycles.append(time.perf_counter() - started)
            fired += summary.fired
    evaluate_s, scan_s = statistics.median(cycles), statistics.median(scans)
    return [
        Measure("rules", rules, "rules", "rules evaluated per cycle"),
        Measure("meters", options.meters, "meters", "  over meters reading 5 quantities a minute"),
        Measure("evaluate_s", evaluate_s, "s", "one evaluation cycle (median, steady state)"),
        Measure("scan_s", scan_s, "s", "  baseline: one scan of each input it reads"),
        Measure("ratio_to_scan", evaluate_s / scan_s, "×", "  cycle ÷ baseline (target ≤ 5)"),
        Measure("share_of_minute", evaluate_s / 60.0, "", "  cycle ÷ its minute (target ≤ 0.1)"),
        Measure("first_cycle_s", first.seconds, "s", "first cycle (opens the initial breaches)"),
        Measure("alerts_fired", fired, "alerts", "  alerts fired over the run"),
    ]
