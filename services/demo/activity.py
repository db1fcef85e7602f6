"""What people did in the demo park before it opens: enterprises' monthly reports in every
review state (with evidence files), and alerts in every state — the park's demand replayed
hour by hour over the backfilled week through the alert lifecycle (so resolved alerts have
their real history), one cycle of every rule now, an acknowledgement, a silence, a pending
alert. Run once, on the first start (a re-run finds the reports and leaves everything)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A5
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.access.policy import Principal
from services.alerts import lifecycle
from services.alerts import service as alert_service
from services.alerts.evaluation import evaluate
from services.alerts.lifecycle import Notifier, Rule
from services.alerts.metrics import Observation
from services.alerts.schemas import SilenceIn
from services.core.models import Alert, AlertRule, Enterprise, EnterpriseReport, Meter, Park, Role
from services.core.settings import Settings
from services.demo.park_layout import ENTERPRISE_OFFLINE, DemoPark
from services.reports import service as reports
from services.reports.jobs import generate_month
from services.reports.schemas import MonthlyReportIn, ReviewIn

DEMO_OPERATOR = "demo-operator"
# The park's contracted demand (合同容量/需量) sits just under its weekday peak, so the
# demand rule fires at peaks and clears in the evening.
CONTRACT_SHARE_OF_PEAK = 0.97


def fill(session: Session, settings: Settings, demo: DemoPark, now: datetime) -> bool:
    """Returns False when the demo park had its activity already."""
    park = demo.park
    if session.scalar(select(EnterpriseReport.id).where(EnterpriseReport.park_id == park.id).limit(1)):
        return False
    operator = Principal("user", 0, DEMO_OPERATOR, Role.OPERATOR, park.id)
    firms = list(
        session.scalars(select(Enterprise).where(Enterprise.park_id == park.id).order_by(Enterprise.id))
    )
    _reports(session, operator, firms, park.timezone, now)
    # last month's carbon report files, as the scheduler makes them on the 1st
    generate_month(session, park, _previous_months(park.timezone, now)[0])
    alert_service.load_defaults(session, park.id)
    _replay_park_demand(session, settings, park.id, now)
    _pending_enterprise_demand(session, firms)
    _silence_offline_meter(session, operator, firms, now)
    evaluate(session, settings, now)
    _acknowledge_coverage(session, operator)
    return True


def _previous_months(timezone: str, now: datetime) -> tuple[date, date]:
    first = now.astimezone(ZoneInfo(timezone)).date().replace(day=1)
    last = (first - timedelta(days=1)).replace(day=1)
    return last, (last - timedelta(days=1)).replace(day=1)


def _body(
    session: Session, firm: Enterprise, period: date, bill_factor: float, timezone: str
) -> MonthlyReportIn:
    """A month's report from the metered month, the bill ``bill_factor`` × the meters."""
    start, end = reports.month_span(period, timezone)
    kwh, m3 = session.execute(
        text(
            "SELECT coalesce(sum(electricity_kwh), 0), coalesce(sum(gas_m3), 0) FROM emission_hourly "
            "WHERE enterprise_id = :e AND hour_start >= :s AND hour_start < :t"
        ),
        {"e": firm.id, "s": start, "t": end},
    ).one()
    purchases = [
        {"carrier": "electricity", "unit": "kWh", "amount": round(float(kwh) * bill_factor, 1),
         "cost_cny": round(float(kwh) * bill_factor * 0.68, 2), "bill_no": f"DF-{period:%Y%m}-{firm.id:04d}"},
    ]  # fmt: skip
    if m3:
        purchases.append(
            {
                "carrier": "natural_gas",
                "unit": "m3",
                "amount": round(float(m3) * bill_factor, 1),
                "cost_cny": round(float(m3) * bill_factor * 3.9, 2),
            }
        )
    return MonthlyReportIn.model_validate(
        {
            "period": f"{period:%Y-%m}",
            "energy_purchases": purchases,
            "output": {"gross_output_10k_cny": round(float(kwh) / 900.0, 1) or 1.0},
            # the enterprises differ: some below the guiding thresholds (80 %, 50 %, 80 %)
            "solid_waste": {"generated_t": 12.0, "utilised_t": 10.8 - 0.9 * (firm.id % 4)},
            "waste_energy": {"recovered_gj": 24.0 + 4.0 * (firm.id % 3), "available_gj": 52.0},
            "water": {"use_t": 2400.0, "reuse_t": 2150.0 - 120.0 * (firm.id % 3)},
        }
    )


def _reports(
    session: Session, operator: Principal, firms: list[Enterprise], timezone: str, now: datetime
) -> None:
    """Last month: accepted, in the queue, returned, amended (v1 superseded, v2 in the queue),
    one whose bill is 12 % above its meters (flagged); the month before: accepted."""
    last, before = _previous_months(timezone, now)
    plan = [  # (enterprise index, period, bill ÷ meters, what happens)
        (0, before, 1.0, "accept"),
        (0, last, 1.01, "return"),
        (1, last, 1.0, "accept"),
        (2, last, 1.02, "submit"),
        (3, last, 1.12, "submit"),
        (4, last, 1.0, "amend"),
        (5, last, 0.99, "accept"),
    ]
    for index, period, bill_share, step in plan:
        firm = firms[index]
        person = Principal("user", 0, f"demo-firm-{index + 1}", Role.ENTERPRISE, firm.park_id, firm.id)
        body = _body(session, firm, period, bill_share, timezone)
        report = reports.submit(session, person, firm.id, body)
        scan = _bill_pdf(firm, body)
        reports.add_evidence(
            session, person, report, f"电费结算单-{period:%Y%m}.pdf", "application/pdf", scan
        )
        if step == "accept":
            reports.review(session, operator, report, ReviewIn(decision="accept"))
        elif step == "return":
            reason = "天然气账单缺失，请补充后重新提交 / the gas bill is missing"
            reports.review(session, operator, report, ReviewIn(decision="return", reason=reason))
        elif step == "amend":
            reports.amend(session, person, report, _body(session, firm, period, 1.0, timezone))


def _bill_pdf(firm: Enterprise, body: MonthlyReportIn) -> bytes:
    """A one-page electricity bill (电费结算单) as an enterprise would scan and attach it."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A5)
    page.setFont("STSong-Light", 14)
    page.drawString(40, 540, "电费结算单（示例）")
    page.setFont("STSong-Light", 10)
    lines = [f"户名：{firm.name}", f"统一社会信用代码：{firm.uscc}", f"结算月份：{body.period}"]
    lines += [
        f"{p.carrier}：{p.amount:,.1f} {p.unit}    金额：{p.cost_cny:,.2f} 元    {p.bill_no or ''}"
        for p in body.energy_purchases
    ]
    for n, line in enumerate(lines):
        page.drawString(40, 510 - 18 * n, line)
    page.showPage()
    page.save()
    return out.getvalue()


# The park's hourly load over the backfilled week as the demand rule's observations: the
# hour's energy is its mean power (kWh over one hour = kW).
HOURLY_DEMAND_SQL = text(
    """
SELECT e.hour_start, p.id AS scope_id, p.name, NULL::int AS enterprise_id,
       100.0 * e.electricity_kwh / p.contracted_demand_kw AS value,
       e.electricity_kwh AS load_kw, p.contracted_demand_kw
FROM emission_hourly e JOIN park p ON p.id = e.park_id
WHERE e.park_id = :park AND e.enterprise_id IS NULL AND e.hour_start < :now
ORDER BY e.hour_start
"""
)


def _replay_park_demand(session: Session, settings: Settings, park_id: int, now: datetime) -> None:
    """The week's hours through the alert lifecycle, as the minute cycle would have seen
    them: breaches fire (the first of a day notified, later ones grouped), clear under the
    hysteresis threshold and resolve."""
    park = session.get(Park, park_id)
    assert park is not None
    peak = session.scalar(
        text("SELECT max(electricity_kwh) FROM emission_hourly WHERE park_id = :p AND enterprise_id IS NULL"),
        {"p": park_id},
    )
    if not peak:
        return
    park.contracted_demand_kw = round(float(peak) * CONTRACT_SHARE_OF_PEAK, -2)
    rule_row = session.scalar(
        select(AlertRule).where(AlertRule.park_id == park_id, AlertRule.default_key == "park_demand")
    )
    if rule_row is None:
        return
    rule = Rule.of(rule_row)
    window = timedelta(hours=settings.alert_group_window_hours)
    open_alert: Alert | None = None
    for row in session.execute(HOURLY_DEMAND_SQL, {"park": park_id, "now": now}).mappings():
        at: datetime = row["hour_start"] + timedelta(hours=1)  # judged when the hour is over
        seen = Observation(row["scope_id"], row["name"], None, float(row["value"]), row)
        notifier = Notifier.for_park(session, park_id, at)
        if open_alert is None and lifecycle.breached(rule, seen.value):
            open_alert = lifecycle.open_alert(session, rule, "park", seen, at)
            lifecycle.fire(session, open_alert, rule, "park", seen, notifier, window, at)
        elif open_alert is not None and lifecycle.cleared(rule, seen.value):
            lifecycle.resolve(session, open_alert, rule, notifier, at, value=seen.value)
            open_alert = None
        elif open_alert is not None:
            open_alert.last_value = seen.value
    session.flush()


def _pending_enterprise_demand(session: Session, firms: list[Enterprise]) -> None:
    """One enterprise's contracted demand just under its live load: the default demand rule
    waits before it fires (``for_seconds``), so its alert is pending when the demo opens."""
    firm = firms[2]
    live_kw = session.scalar(
        text(
            "SELECT sum(s.probe_value) FROM meter m JOIN meter_status s ON s.meter_id = m.id "
            "WHERE m.enterprise_id = :e AND m.role = 'enterprise_main'"
        ),
        {"e": firm.id},
    )
    if live_kw:
        firm.contracted_demand_kw = round(float(live_kw) * 0.9, 0)
        session.flush()


def _silence_offline_meter(
    session: Session, operator: Principal, firms: list[Enterprise], now: datetime
) -> None:
    """A maintenance window on the offline enterprise's main meter (its communication module
    is being replaced): its alerts open silenced, its sub-meters' are announced."""
    offline = firms[ENTERPRISE_OFFLINE]
    meter = session.scalar(
        select(Meter).where(Meter.enterprise_id == offline.id, Meter.role == "enterprise_main")
    )
    if meter is None:
        return
    alert_service.create_silence(
        session,
        operator,
        SilenceIn.model_validate(
            {
                "kind": "maintenance",
                "starts_at": now.isoformat(),
                "scope_kind": "meter",
                "scope_id": meter.id,
                "ends_at": (now + timedelta(days=1)).isoformat(),
                "reason": f"{offline.name} 通讯模块更换中 / communication module being replaced",
            }
        ),
    )


def _acknowledge_coverage(session: Session, operator: Principal) -> None:
    """The operator has seen the coverage alert: the new enterprise's meter is on order."""
    coverage = session.scalar(
        select(Alert)
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(AlertRule.park_id == operator.park, AlertRule.default_key == "coverage")
        .where(Alert.state == "firing")
    )
    if coverage is not None:
        note = "新入驻企业总表已排期安装 / the new enterprise's main meter is on order"
        alert_service.acknowledge(session, operator, coverage, note)
