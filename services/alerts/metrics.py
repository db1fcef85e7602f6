"""The metrics a rule can watch, each read for every scope of a park in one statement.

Every statement returns ``scope_id``, ``name``, ``enterprise_id`` (whose scope it is, for
enterprise users' visibility and their channels), ``value`` and any further columns,
which travel with the alert as its ``detail`` (a master/sub imbalance carries both
numbers). A scope without a row has no observation this cycle: its alert neither fires nor
clears (no data is not "back to normal").

Hourly metrics read the park's latest computed hour (the hourly carbon job's output); the
live ones read ``meter_status``, which the evaluator refreshes from the readings that
arrived since its last cycle (scan.py); nothing re-scans a day of raw readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, TextClause, text
from sqlalchemy.orm import Session

SCOPE_KINDS = ("park", "enterprise", "meter", "gateway")

# A meter's power counts as live for this long after its last reading.
LIVE = "interval '15 minutes'"
# The park's latest hour the carbon job has computed, looked up once per cycle (``:hour``,
# latest_hour()): a constant the planner can use on the hour-keyed tables.
LATEST_HOUR = "CAST(:hour AS timestamptz)"
LATEST_HOUR_SQL = text(
    """SELECT max(hour_start) FROM carbon_factor_hourly
       WHERE park_id = :park_id AND bus_id IS NULL
         AND hour_start > :now - interval '1 day' AND hour_start < :now"""
)
METER_NAME = "m.code || ' ' || m.name"
PARK_METERS = "m.park_id = :park_id AND m.retired_at IS NULL AND NOT m.virtual"


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    unit: str
    zh: str
    en: str
    source: str  # what it is read from, for the API's catalogue
    sql: dict[str, TextClause]  # by scope kind
    data_quality: bool = False  # a fault: escalates when open past the repair term
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.sql)


def _q(sql: str) -> TextClause:
    return text(sql)


def _hourly_emissions(expr: str) -> dict[str, TextClause]:
    return {
        "enterprise": _q(
            f"""SELECT e.id AS scope_id, e.name, e.id AS enterprise_id, {expr} AS value,
                       x.hour_start
                FROM emission_hourly x JOIN enterprise e ON e.id = x.enterprise_id
                WHERE x.park_id = :park_id AND x.hour_start = {LATEST_HOUR}"""
        ),
        "park": _q(
            f"""SELECT p.id AS scope_id, p.name, NULL::int AS enterprise_id, {expr} AS value,
                       x.hour_start
                FROM emission_hourly x JOIN park p ON p.id = x.park_id
                WHERE x.park_id = :park_id AND x.enterprise_id IS NULL
                  AND x.hour_start = {LATEST_HOUR}"""
        ),
    }


def _load(role: str, owner: str) -> str:
    """Sum of the live power of the ``role`` meters of each ``owner`` (enterprise or park)."""
    return f"""
        SELECT o.id AS scope_id, o.name, {"o.id" if owner == "enterprise" else "NULL::int"} AS enterprise_id,
               sum(s.probe_value) AS value, o.contracted_demand_kw,
               100.0 * sum(s.probe_value) / nullif(o.contracted_demand_kw, 0) AS share_pct
        FROM meter m JOIN meter_status s ON s.meter_id = m.id
        JOIN {owner} o ON o.id = m.{owner}_id
        WHERE {PARK_METERS} AND m.role = '{role}' AND s.last_reading_at > :now - {LIVE}
          AND s.probe_value IS NOT NULL
        GROUP BY o.id, o.name, o.contracted_demand_kw"""


def _share_of_contract(sql: str) -> str:
    return (
        f"SELECT scope_id, name, enterprise_id, share_pct AS value, contracted_demand_kw FROM ({sql}) l "
        "WHERE contracted_demand_kw IS NOT NULL"
    )


METRICS: dict[str, Metric] = {}


def _add(metric: Metric) -> None:
    METRICS[metric.key] = metric


_add(
    Metric(
        "meter_power_kw",
        "kW",
        "表计功率",
        "Meter power",
        "the meter's latest power_kw reading (live within 15 min)",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id,
                           s.probe_value AS value, s.last_reading_at
                    FROM meter m JOIN meter_status s ON s.meter_id = m.id
                    WHERE {PARK_METERS} AND s.last_reading_at > :now - {LIVE}
                      AND s.probe_value IS NOT NULL"""
            )
        },
    )
)
_add(
    Metric(
        "meter_energy_kwh",
        "kWh",
        "表计小时电量",
        "Meter energy in the latest hour",
        "interval_energy, energy_import_kwh, the park's latest computed hour",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id, ie.value,
                           ie.hour_start, ie.quality::text AS quality
                    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
                    WHERE {PARK_METERS} AND ie.quantity = 'energy_import_kwh'
                      AND ie.hour_start = {LATEST_HOUR}"""
            )
        },
    )
)
_add(
    Metric(
        "load_kw",
        "kW",
        "负荷",
        "Load",
        "live power of the enterprise's main meters / the park's grid import meters",
        {"enterprise": _q(_load("enterprise_main", "enterprise")), "park": _q(_load("grid_import", "park"))},
    )
)
_add(
    Metric(
        "load_pct_of_contract",
        "%",
        "负荷占合同最大需量",
        "Load as a share of the contracted demand",
        "load_kw ÷ contracted_demand_kw (合同最大需量) of the enterprise or park",
        {
            "enterprise": _q(_share_of_contract(_load("enterprise_main", "enterprise"))),
            "park": _q(_share_of_contract(_load("grid_import", "park"))),
        },
    )
)
_add(
    Metric(
        "hourly_emissions_kg",
        "kgCO2",
        "小时碳排放",
        "Hourly emissions",
        "emission_hourly (scope 1 + location-based scope 2), the latest computed hour",
        _hourly_emissions("x.scope1_kg + x.scope2_kg"),
    )
)
_add(
    Metric(
        "emission_intensity_kg_per_kwh",
        "kgCO2/kWh",
        "单位电量碳排放",
        "Emissions per kWh consumed",
        "emission_hourly: (scope 1 + scope 2) ÷ electricity, the latest computed hour",
        _hourly_emissions("(x.scope1_kg + x.scope2_kg) / nullif(x.electricity_kwh, 0)"),
    )
)
_add(
    Metric(
        "park_factor_kg_per_kwh",
        "kgCO2/kWh",
        "园区电碳因子",
        "Park electricity carbon factor",
        "carbon_factor_hourly, the park row of the latest computed hour",
        {
            "park": _q(
                f"""SELECT p.id AS scope_id, p.name, NULL::int AS enterprise_id,
                           f.factor_kg_per_kwh AS value, f.hour_start
                    FROM carbon_factor_hourly f JOIN park p ON p.id = f.park_id
                    WHERE f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start = {LATEST_HOUR}"""
            )
        },
    )
)
_add(
    Metric(
        "coverage_pct",
        "%",
        "企业覆盖率",
        "Enterprise coverage",
        "coverage_hourly (target > 95 %, 《零碳园区建设指南》 5.5.6), the latest computed hour",
        {
            "park": _q(
                f"""SELECT p.id AS scope_id, p.name, NULL::int AS enterprise_id,
                           100.0 * c.coverage_ratio AS value, c.enterprises_covered, c.enterprises_total,
                           c.hour_start
                    FROM coverage_hourly c JOIN park p ON p.id = c.park_id
                    WHERE c.park_id = :park_id AND c.hour_start = {LATEST_HOUR}"""
            )
        },
    )
)
_add(
    Metric(
        "conservation_residual_kg",
        "kgCO2",
        "碳守恒残差",
        "Carbon conservation residual",
        "carbon_factor_hourly.conservation_residual_kg (absolute), the latest computed hour",
        {
            "park": _q(
                f"""SELECT p.id AS scope_id, p.name, NULL::int AS enterprise_id,
                           abs(coalesce(f.conservation_residual_kg, 0)) AS value, f.hour_start
                    FROM carbon_factor_hourly f JOIN park p ON p.id = f.park_id
                    WHERE f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start = {LATEST_HOUR}"""
            )
        },
    )
)
_add(
    Metric(
        "quarantine_rate_pct",
        "%",
        "隔离率",
        "Quarantine rate",
        "telemetry quarantined ÷ (quarantined + readings stored), the last 60 minutes",
        {
            "park": _q(
                """WITH q AS (SELECT count(*) AS n FROM quarantine
                              WHERE park_id = :park_id AND received_at > :now - interval '1 hour'),
                        r AS (SELECT coalesce(sum(readings), 0) AS n FROM telemetry_minute
                              WHERE park_id = :park_id AND minute > :now - interval '1 hour')
                   SELECT p.id AS scope_id, p.name, NULL::int AS enterprise_id,
                          100.0 * q.n / nullif(q.n + r.n, 0) AS value, q.n AS quarantined, r.n AS readings
                   FROM park p, q, r WHERE p.id = :park_id AND q.n + r.n > 0"""
            )
        },
    )
)
_add(
    Metric(
        "report_overdue_days",
        "d",
        "月报逾期天数",
        "Days the monthly report is overdue",
        "last month's report not submitted by the due day (settings.report_due_day)",
        {
            "enterprise": _q(
                """SELECT e.id AS scope_id, e.name, e.id AS enterprise_id,
                          (CAST(:today AS date) - CAST(:due AS date)) AS value,
                          CAST(:period AS date) AS period
                   FROM enterprise e
                   WHERE e.park_id = :park_id AND e.retired_at IS NULL
                     AND (e.joined_on IS NULL OR e.joined_on <= :period_end)
                     AND NOT EXISTS (SELECT 1 FROM enterprise_report r
                                     WHERE r.enterprise_id = e.id AND r.period = :period
                                       AND r.status IN ('submitted', 'accepted'))"""
            )
        },
    )
)
_add(
    Metric(
        "reports_returned",
        "",
        "被退回的月报",
        "Returned monthly reports",
        "live reports returned by an operator and not yet submitted again",
        {
            "enterprise": _q(
                """SELECT e.id AS scope_id, e.name, e.id AS enterprise_id, count(r.id) AS value,
                          string_agg(to_char(r.period, 'YYYY-MM'), ',' ORDER BY r.period) AS periods
                   FROM enterprise e LEFT JOIN enterprise_report r
                     ON r.enterprise_id = e.id AND r.status = 'returned'
                   WHERE e.park_id = :park_id AND e.retired_at IS NULL
                   GROUP BY e.id, e.name"""
            )
        },
    )
)
_add(
    Metric(
        "report_review_wait_hours",
        "h",
        "月报待审时长",
        "Hours the oldest report has waited for review",
        "the oldest submitted report of the park",
        {
            "park": _q(
                """SELECT p.id AS scope_id, p.name, NULL::int AS enterprise_id,
                          coalesce(extract(epoch FROM :now - min(r.submitted_at)) / 3600.0, 0) AS value,
                          count(r.id) AS waiting
                   FROM park p LEFT JOIN enterprise_report r ON r.park_id = p.id AND r.status = 'submitted'
                   WHERE p.id = :park_id GROUP BY p.id, p.name"""
            )
        },
    )
)
# Data quality: faults a park's metering must repair.
_add(
    Metric(
        "silent_minutes",
        "min",
        "数据中断时长",
        "Minutes without data",
        "meter_status: now − the newest reading (a gateway: the newest any of its meters sent)",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id,
                           extract(epoch FROM :now - coalesce(s.last_reading_at, s.watched_since)) / 60.0
                               AS value,
                           s.last_reading_at
                    FROM meter m JOIN meter_status s ON s.meter_id = m.id
                    WHERE {PARK_METERS} AND m.active"""
            ),
            "gateway": _q(
                f"""SELECT g.id AS scope_id, g.code || ' ' || g.name AS name, NULL::int AS enterprise_id,
                           extract(epoch FROM :now - greatest(
                               max(coalesce(s.last_received_at, s.watched_since)), g.last_seen_at)) / 60.0
                               AS value,
                           greatest(max(s.last_received_at), g.last_seen_at) AS last_seen_at
                    FROM gateway g JOIN meter m ON m.gateway_id = g.id
                    JOIN meter_status s ON s.meter_id = m.id
                    WHERE g.park_id = :park_id AND g.retired_at IS NULL AND {PARK_METERS}
                    GROUP BY g.id, g.code, g.name, g.last_seen_at"""
            ),
        },
        data_quality=True,
    )
)
_add(
    Metric(
        "stale_minutes",
        "min",
        "数值冻结时长",
        "Minutes the value has been frozen",
        "meter_status: span over which power_kw kept the same non-zero value while new readings arrived",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id,
                           extract(epoch FROM s.last_reading_at - s.probe_since) / 60.0 AS value,
                           s.probe_value AS frozen_value, s.probe_since AS frozen_since
                    FROM meter m JOIN meter_status s ON s.meter_id = m.id
                    WHERE {PARK_METERS} AND s.probe_since IS NOT NULL
                      -- exactly 0 kW is an idle battery, PV at night, a plant stopped
                      -- over the weekend: standing still at zero is not a frozen value
                      AND s.probe_value <> 0
                      AND s.last_reading_at > :now - {LIVE}"""
            )
        },
        data_quality=True,
    )
)
_add(
    Metric(
        "completeness_pct",
        "%",
        "数据完整率",
        "Data completeness (yesterday)",
        "readings ÷ expected for the previous local day, counted once it is over "
        "(≥ 90 %, 重点用能单位能耗在线监测)",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id,
                           least(100.0 * coalesce(c.received, 0)
                                 / (cardinality(m.quantities) * 86400.0 / m.reading_interval_s), 100)
                               AS value, coalesce(c.received, 0) AS received, CAST(:yesterday AS date) AS day
                    FROM meter m JOIN reading_count_daily c
                      ON c.meter_id = m.id AND c.day = :yesterday AND c.reconciled
                    WHERE {PARK_METERS} AND m.active"""
            ),
            "enterprise": _q(
                f"""SELECT e.id AS scope_id, e.name, e.id AS enterprise_id,
                           100.0 * sum(least(coalesce(c.received, 0),
                                             cardinality(m.quantities) * 86400.0 / m.reading_interval_s))
                               / sum(cardinality(m.quantities) * 86400.0 / m.reading_interval_s) AS value,
                           CAST(:yesterday AS date) AS day
                    FROM meter m JOIN enterprise e ON e.id = m.enterprise_id
                    JOIN reading_count_daily c ON c.meter_id = m.id AND c.day = :yesterday AND c.reconciled
                    WHERE {PARK_METERS} AND m.active
                    GROUP BY e.id, e.name"""
            ),
        },
        data_quality=True,
    )
)
_add(
    Metric(
        "register_anomalies",
        "h",
        "表码异常小时数",
        "Hours with a register reset, rollover or jump (24 h)",
        "interval_energy hours of the last 24 h flagged reset, rollover or implausible",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id, count(*) AS value,
                           string_agg(DISTINCT ie.quality::text, ',') AS kinds
                    FROM interval_energy ie JOIN meter m ON m.id = ie.meter_id
                    WHERE {PARK_METERS} AND ie.hour_start > :now - interval '24 hours'
                      AND ie.quality IN ('reset', 'rollover', 'implausible')
                    GROUP BY m.id, m.code, m.name, m.enterprise_id"""
            )
        },
        data_quality=True,
    )
)
_add(
    Metric(
        "submeter_imbalance_pct",
        "%",
        "总分表偏差",
        "Master meter vs the sum of its sub-meters",
        "interval_energy of the latest computed hour: |master − Σ sub-meters| ÷ master",
        {
            "meter": _q(
                f"""WITH e AS MATERIALIZED (
                        SELECT ie.meter_id, ie.value, ie.hour_start FROM interval_energy ie
                        WHERE ie.hour_start = {LATEST_HOUR} AND ie.quantity = 'energy_import_kwh'),
                    subs AS (SELECT c.parent_meter_id AS id, sum(e.value) AS kwh, count(*) AS n
                             FROM meter c JOIN e ON e.meter_id = c.id
                             WHERE c.park_id = :park_id AND c.parent_meter_id IS NOT NULL
                               AND c.retired_at IS NULL
                             GROUP BY c.parent_meter_id)
                    SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id,
                           100.0 * abs(e.value - subs.kwh) / nullif(e.value, 0) AS value,
                           e.value AS master_kwh, subs.kwh AS submeters_kwh, subs.n AS submeters,
                           e.hour_start
                    FROM meter m JOIN e ON e.meter_id = m.id JOIN subs ON subs.id = m.id
                    WHERE {PARK_METERS} AND e.value > 0"""
            )
        },
        data_quality=True,
    )
)
_add(
    Metric(
        "calibration_overdue_days",
        "d",
        "检定超期天数",
        "Days past the calibration date",
        "meter.calibration_valid_until (检定有效期), against the park's local date",
        {
            "meter": _q(
                f"""SELECT m.id AS scope_id, {METER_NAME} AS name, m.enterprise_id,
                           (CAST(:today AS date) - m.calibration_valid_until) AS value,
                           m.calibration_valid_until
                    FROM meter m WHERE {PARK_METERS} AND m.calibration_valid_until IS NOT NULL"""
            )
        },
        data_quality=True,
    )
)


def latest_hour(session: Session, park_id: int, now: datetime) -> datetime | None:
    """The park's latest hour the carbon job has computed (within the last day)."""
    return session.scalar(LATEST_HOUR_SQL, {"park_id": park_id, "now": now})


IDENTITY = ("scope_id", "name", "enterprise_id", "value")


@dataclass(frozen=True, slots=True)
class Observation:
    scope_id: int
    name: str
    enterprise_id: int | None
    value: float
    row: RowMapping  # the statement's further columns, read only when an alert needs them

    @property
    def detail(self) -> dict[str, object]:
        return {k: _plain(v) for k, v in self.row.items() if k not in IDENTITY}


_ONLY: dict[tuple[str, str], TextClause] = {}


def observe(
    session: Session,
    metric: Metric,
    scope_kind: str,
    params: dict[str, Any],
    only: list[int] | None = None,
) -> dict[int, Observation]:
    """The metric's value for every ``scope_kind`` scope of the park that has one (``only``:
    for these scopes, when every rule names its scope)."""
    statement = metric.sql[scope_kind]
    if only is not None:
        key = (metric.key, scope_kind)
        if key not in _ONLY:
            _ONLY[key] = text(f"SELECT * FROM ({statement.text}) o WHERE o.scope_id = ANY(:only)")
        statement, params = _ONLY[key], {**params, "only": only}
    out: dict[int, Observation] = {}
    for row in session.execute(statement, params).mappings():
        value = row["value"]
        if value is None:
            continue
        scope_id = int(row["scope_id"])
        out[scope_id] = Observation(scope_id, str(row["name"]), row["enterprise_id"], float(value), row)
    return out


def _plain(value: object) -> object:
    """A JSON-storable detail value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return float(value)  # type: ignore[arg-type]  # Decimal from numeric arithmetic
