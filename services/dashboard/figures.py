"""Plotly figures of the operator overview, rendered to HTML fragments server-side."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from services.carbon.coverage import COVERAGE_TARGET
from services.carbon.schemas import HourlyEmission, HourlyFactor

LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 320,
    "font": {"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif"},
}


def _html(fig: go.Figure, div_id: str) -> str:
    html: str = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )
    return html


def factor_curve(factors: Sequence[HourlyFactor], t: dict[str, str], tz: ZoneInfo) -> str:
    """Axes show the park's local hours (``park.timezone``)."""
    fig = go.Figure(
        go.Scatter(
            x=[f.hour_start.astimezone(tz) for f in factors],
            y=[f.factor_kg_per_kwh for f in factors],
            mode="lines",
            line={"color": "#0b7a53"},
            name=t["factor_axis"],
        )
    )
    fig.update_layout(title=t["factor_curve"], yaxis_title=t["factor_axis"], **LAYOUT)
    return _html(fig, "fig-factor")


def emissions_bars(
    rows: Sequence[HourlyEmission], t: dict[str, str], tz: ZoneInfo, title_key: str = "emissions_chart"
) -> str:
    hours = [r.hour_start.astimezone(tz) for r in rows]
    fig = go.Figure(
        [
            go.Bar(x=hours, y=[r.scope1_kg for r in rows], name=t["scope1"], marker_color="#c0504d"),
            go.Bar(x=hours, y=[r.scope2_kg for r in rows], name=t["scope2"], marker_color="#4f81bd"),
        ]
    )
    fig.update_layout(
        barmode="stack",
        title=t[title_key],
        yaxis_title=t["emissions_axis"],
        legend={"orientation": "h"},
        **LAYOUT,
    )
    return _html(fig, "fig-emissions")


def energy_mix(grid_kwh: float, green_kwh: float, pv_kwh: float, t: dict[str, str]) -> str:
    fig = go.Figure(
        go.Pie(
            labels=[t["grid_import"], t["green_import"], t["pv"]],
            values=[grid_kwh, green_kwh, pv_kwh],
            hole=0.45,
            marker={"colors": ["#7f7f7f", "#2ca02c", "#f2c12e"]},
        )
    )
    fig.update_layout(title=t["energy_mix"], **LAYOUT)
    return _html(fig, "fig-mix")


def coverage_gauge(ratio: float | None, t: dict[str, str]) -> str:
    value = 100 * (ratio or 0.0)
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number+delta",
            value=value,
            number={"suffix": " %", "valueformat": ".1f"},
            delta={"reference": 100 * COVERAGE_TARGET, "valueformat": ".1f"},
            title={"text": f"{t['coverage']}（{t['coverage_target']}）"},
            gauge={
                "axis": {"range": [0, 100]},
                "bar": {"color": "#0b7a53" if value > 100 * COVERAGE_TARGET else "#d9822b"},
                "threshold": {"line": {"color": "#c0504d", "width": 3}, "value": 100 * COVERAGE_TARGET},
            },
        )
    )
    fig.update_layout(**LAYOUT)
    return _html(fig, "fig-coverage")
