"""Monthly carbon reports (月度碳排放报告) for an enterprise and for the park, as Excel and as
PDF with charts, in Chinese, citing the method and the sources of every factor used. Both
files are drawn from one set of figures (``MonthFigures``) read from the engine's tables, so
they agree with each other and with the API."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.nodal import METHOD_SOURCE
from services.core.models import Enterprise, Park, ReportStatus
from services.reports.service import live_report, month_span

# Adobe's Song CID font ships with every PDF reader: Chinese text without embedding a font.
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

METHODS = [
    "排放核算: GB/T 32150-2015《工业企业温室气体排放核算和报告通则》 (燃料燃烧、净购入电力和热力)",
    "能源折标: GB/T 2589-2020《综合能耗计算通则》 (电力当量值 0.1229 kgce/kWh)",
    f"园区及节点电碳因子: 碳排放流方法, {METHOD_SOURCE}",
    "指标: 发改环资〔2025〕910号《关于开展零碳园区建设的通知》附件 零碳园区建设指标体系(试行)",
]

TOTALS_SQL = text(
    """
SELECT coalesce(sum(electricity_kwh), 0) AS electricity_kwh, coalesce(sum(gas_m3), 0) AS gas_m3,
       coalesce(sum(heat_gj), 0) AS heat_gj, coalesce(sum(energy_tce), 0) AS energy_tce,
       coalesce(sum(energy_tce_equivalent), 0) AS energy_tce_equivalent,
       coalesce(sum(scope1_kg), 0) / 1000 AS scope1_t, coalesce(sum(scope2_kg), 0) / 1000 AS scope2_t,
       coalesce(sum(scope2_market_kg), 0) / 1000 AS scope2_market_t,
       coalesce(sum(green_kwh), 0) AS green_kwh, coalesce(sum(non_fossil_kwh), 0) AS non_fossil_kwh,
       count(*) AS hours
FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NOT DISTINCT FROM :enterprise_id
  AND hour_start >= :lo AND hour_start < :hi
"""
)
DAILY_SQL = text(
    """
SELECT (hour_start AT TIME ZONE :tz)::date AS day, sum(electricity_kwh) AS kwh,
       sum(scope1_kg + scope2_kg) / 1000 AS t
FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NOT DISTINCT FROM :enterprise_id
  AND hour_start >= :lo AND hour_start < :hi
GROUP BY 1 ORDER BY 1
"""
)
FACTORS_SQL = text(
    """
SELECT avg(factor_kg_per_kwh) AS mean,
       array_remove(array_agg(DISTINCT inputs->>'grid_factor_source'), NULL) AS sources
FROM carbon_factor_hourly
WHERE park_id = :park_id AND bus_id IS NULL AND hour_start >= :lo AND hour_start < :hi
"""
)
ENTERPRISES_SQL = text(
    """
SELECT e.name, coalesce(sum(h.electricity_kwh), 0) AS kwh, coalesce(sum(h.energy_tce), 0) AS tce,
       coalesce(sum(h.scope1_kg + h.scope2_kg), 0) / 1000 AS t
FROM enterprise e
LEFT JOIN emission_hourly h
  ON h.enterprise_id = e.id AND h.hour_start >= :lo AND h.hour_start < :hi
WHERE e.park_id = :park_id AND e.retired_at IS NULL
GROUP BY e.id, e.name ORDER BY t DESC, e.name
"""
)


@dataclass
class MonthFigures:
    park: str
    enterprise: str | None
    period: date
    totals: dict[str, float]
    daily: list[tuple[date, float, float]]  # (day, kWh, tCO2)
    factor_mean: float | None
    grid_sources: list[str]
    output_10k_cny: float | None = None
    report_status: str | None = None
    enterprises: list[tuple[str, float, float, float]] = field(default_factory=list)  # name, kWh, tce, tCO2

    @property
    def emissions_t(self) -> float:
        return self.totals["scope1_t"] + self.totals["scope2_t"]

    @property
    def title(self) -> str:
        who = self.enterprise or f"{self.park}（园区）"
        return f"{who} {self.period.year}年{self.period.month}月 碳排放报告"

    def summary(self) -> list[tuple[str, object, str]]:
        """(label, value, unit) rows of the summary, in the order both files show them."""
        t = self.totals
        rows: list[tuple[str, object, str]] = [
            ("用电量", t["electricity_kwh"], "kWh"),
            ("天然气", t["gas_m3"], "m³"),
            ("外购热力", t["heat_gj"], "GJ"),
            ("综合能耗（当量值）", t["energy_tce"], "tce"),
            ("综合能耗（等价值）", t["energy_tce_equivalent"], "tce"),
            ("直接排放（范围一）", t["scope1_t"], "tCO₂"),
            ("间接排放（范围二，基于位置）", t["scope2_t"], "tCO₂"),
            ("间接排放（范围二，基于市场）", t["scope2_market_t"], "tCO₂"),
            ("碳排放总量（范围一+二，基于位置）", self.emissions_t, "tCO₂"),
            ("绿电（绿证/绿电交易）", t["green_kwh"], "kWh"),
            ("非化石能源电量", t["non_fossil_kwh"], "kWh"),
            ("单位能耗碳排放", self.emissions_t / t["energy_tce"] if t["energy_tce"] else None, "tCO₂/tce"),
            ("园区电碳因子（月均）", self.factor_mean, "kgCO₂/kWh"),
        ]
        if self.output_10k_cny:
            rows.append(("工业总产值（报送）", self.output_10k_cny, "万元"))
            rows.append(("单位产值碳排放", self.emissions_t / self.output_10k_cny, "tCO₂/万元"))
        if self.report_status:
            rows.append(("月度报送状态", self.report_status, ""))
        return rows

    def sources(self) -> list[str]:
        gas = factors.GAS_NCV_GJ_PER_10K_NM3
        return [
            *METHODS,
            f"天然气: 低位发热量 {gas.value} GJ/万Nm³ — {gas.source}",
            *(f"电网排放因子: {s}" for s in self.grid_sources),
        ]


def figures(session: Session, park: Park, enterprise: Enterprise | None, period: date) -> MonthFigures:
    lo, hi = month_span(period, park.timezone)
    params = {
        "park_id": park.id,
        "enterprise_id": enterprise.id if enterprise else None,
        "lo": lo,
        "hi": hi,
        "tz": park.timezone,
    }
    totals = session.execute(TOTALS_SQL, params).mappings().one()
    daily = [(d, float(k or 0), float(t or 0)) for d, k, t in session.execute(DAILY_SQL, params)]
    f = session.execute(FACTORS_SQL, params).one()
    result = MonthFigures(
        park=park.name,
        enterprise=enterprise.name if enterprise else None,
        period=period,
        totals={k: float(v) for k, v in totals.items() if k != "hours"},
        daily=daily,
        factor_mean=None if f.mean is None else float(f.mean),
        grid_sources=sorted(f.sources or []),
    )
    if enterprise is not None:
        report = live_report(session, enterprise.id, period)
        if report is not None:
            labels = {"submitted": "已报送，待审核", "accepted": "已通过", "returned": "已退回"}
            result.report_status = labels.get(report.status.value, report.status.value)
            output = report.body.get("output")
            if isinstance(output, dict) and report.status is ReportStatus.ACCEPTED:
                result.output_10k_cny = float(output.get("gross_output_10k_cny") or 0) or None
    else:
        result.enterprises = [
            (name, float(kwh), float(tce), float(t))
            for name, kwh, tce, t in session.execute(ENTERPRISES_SQL, params)
        ]
    return result


def as_xlsx(fig: MonthFigures) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "概要"
    sheet.append([fig.title])
    sheet.append([])
    sheet.append(["项目", "数值", "单位"])
    for label, value, unit in fig.summary():
        sheet.append([label, value, unit])
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["B"].width = 18
    days = book.create_sheet("逐日")
    days.append(["日期", "用电量 kWh", "碳排放 tCO₂"])
    for day, kwh, t in fig.daily:
        days.append([day, kwh, t])
    if fig.daily:
        chart = BarChart()
        chart.title = "逐日碳排放 (tCO₂)"
        chart.add_data(
            Reference(days, min_col=3, min_row=1, max_row=len(fig.daily) + 1), titles_from_data=True
        )
        chart.set_categories(Reference(days, min_col=1, min_row=2, max_row=len(fig.daily) + 1))
        days.add_chart(chart, "E2")
    if fig.enterprises:
        firms = book.create_sheet("企业")
        firms.append(["企业", "用电量 kWh", "综合能耗 tce", "碳排放 tCO₂"])
        for row in fig.enterprises:
            firms.append(list(row))
    method = book.create_sheet("方法与因子")
    method.append(["核算方法与因子来源"])
    for line in fig.sources():
        method.append([line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"
    return "—" if value is None else str(value)


def as_pdf(fig: MonthFigures) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=fig.title, leftMargin=18 * mm, rightMargin=18 * mm)
    heading = ParagraphStyle("h", fontName=FONT, fontSize=16, leading=22, spaceAfter=8)
    body = ParagraphStyle("b", fontName=FONT, fontSize=9, leading=13)
    small = ParagraphStyle("s", fontName=FONT, fontSize=8, leading=11, textColor=colors.grey)
    table_style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 9),
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
            ("ALIGN", (1, 1), (1, -1), "RIGHT"),
        ]
    )
    story: list[object] = [Paragraph(fig.title, heading)]
    rows = [["项目", "数值", "单位"]] + [[label, _number(v), unit] for label, v, unit in fig.summary()]
    story += [Table(rows, colWidths=[80 * mm, 50 * mm, 30 * mm], style=table_style), Spacer(1, 8 * mm)]
    if fig.daily:
        story.append(Paragraph("逐日碳排放 (tCO₂)", body))
        drawing = Drawing(170 * mm, 60 * mm)
        chart = VerticalBarChart()
        chart.x, chart.y, chart.width, chart.height = 10 * mm, 8 * mm, 155 * mm, 48 * mm
        chart.data = [[t for _, _, t in fig.daily]]
        chart.categoryAxis.categoryNames = [str(d.day) for d, _, _ in fig.daily]
        chart.categoryAxis.labels.fontName = FONT
        chart.categoryAxis.labels.fontSize = 6
        chart.valueAxis.labels.fontSize = 7
        chart.valueAxis.valueMin = 0
        chart.bars[0].fillColor = colors.HexColor("#2f6f9f")
        drawing.add(chart)
        story += [drawing, Spacer(1, 6 * mm)]
    if fig.enterprises:
        firms = [["企业", "用电量 kWh", "综合能耗 tce", "碳排放 tCO₂"]] + [
            [name, _number(kwh), _number(tce), _number(t)] for name, kwh, tce, t in fig.enterprises
        ]
        story += [Table(firms, style=table_style, repeatRows=1), Spacer(1, 6 * mm)]
    story.append(Paragraph("核算方法与因子来源", body))
    story += [Paragraph(line, small) for line in fig.sources()]
    doc.build(story)
    return out.getvalue()
