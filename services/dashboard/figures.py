"""Plotly figures of the operator overview, rendered to HTML fragments server-side."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from services.carbon.coverage import COVERAGE_TARGET
from services.carbon.indicators import CoreTrend
from services.carbon.power import PowerPoint
from services.carbon.schemas import HourlyEmission, HourlyFactor
from services.carbon.series import Point
from services.carbon.topology import Topology
from services.dashboard.overview import CarrierDay, EnergyMix

LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 320,
    "font": {"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif"},
}


# The wall display's look: dark, large type, readable across a control room.
WALL = {
    "template": "plotly_dark",
    "paper_bgcolor": "#06140f",
    "plot_bgcolor": "#06140f",
    "font": {"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif", "size": 22},
    "autosize": True,
    "height": None,
}


def _html(fig: go.Figure, div_id: str, wall: bool = False) -> str:
    if wall:
        fig.update_layout(**WALL)
    html: str = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
        auto_play=False,  # a figure with frames (the topology's hours) opens on its latest
    )
    return html


def factor_curve(
    factors: Sequence[HourlyFactor],
    t: dict[str, str],
    tz: ZoneInfo,
    wall: bool = False,
    title_key: str = "factor_curve",
) -> str:
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
    fig.update_layout(title=t[title_key], yaxis_title=t["factor_axis"], **LAYOUT)
    return _html(fig, "fig-factor", wall)


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


def energy_mix(mix: EnergyMix, t: dict[str, str]) -> str:
    """Two rings: electricity by source (kWh) and final energy by carrier (tce)."""
    colours = {
        "grid": "#7f7f7f",
        "green_line": "#2ca02c",
        "pv": "#f2c12e",
        "wind": "#17becf",
        "behind_meter_pv": "#bcbd22",
        "chp": "#d62728",
        "storage": "#9467bd",
    }
    sources = [(k, v) for k, v in mix.electricity_kwh.items() if v > 0]
    carriers = [(k, v) for k, v in mix.carriers_tce().items() if v > 0]
    fig = make_subplots(
        rows=1,
        cols=2,
        specs=[[{"type": "domain"}, {"type": "domain"}]],
        subplot_titles=(t["mix_electricity"], t["mix_carriers"]),
    )
    fig.add_trace(
        go.Pie(
            labels=[t[f"source_{k}"] for k, _ in sources],
            values=[v for _, v in sources],
            hole=0.45,
            marker={"colors": [colours[k] for k, _ in sources]},
            hovertemplate="%{label}: %{value:,.0f} kWh (%{percent})<extra></extra>",
            textinfo="percent",
            name="kWh",
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Pie(
            labels=[t[f"carrier_{k}"] for k, _ in carriers],
            values=[v for _, v in carriers],
            hole=0.45,
            marker={"colors": ["#4f81bd", "#e6843c", "#c0504d"][: len(carriers)]},
            hovertemplate="%{label}: %{value:,.2f} tce (%{percent})<extra></extra>",
            textinfo="percent",
            name="tce",
        ),
        1,
        2,
    )
    margin = {"l": 50, "r": 20, "t": 80, "b": 40}  # room for the title above the two rings' titles
    fig.update_layout(title=t["energy_mix"], legend={"orientation": "h"}, **{**LAYOUT, "margin": margin})
    return _html(fig, "fig-mix")


def coverage_gauge(ratio: float | None, t: dict[str, str], wall: bool = False) -> str:
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
    return _html(fig, "fig-coverage", wall)


def factor_heatmap(hours: Sequence[tuple[datetime, float | None]], t: dict[str, str], tz: ZoneInfo) -> str:
    """The park factor as local day × hour of day (a day's shape and how it moves over weeks)."""
    days: dict[str, list[float | None]] = {}
    for hour, factor in hours:
        local = hour.astimezone(tz)
        days.setdefault(local.strftime("%Y-%m-%d"), [None] * 24)[local.hour] = factor
    fig = go.Figure(
        go.Heatmap(
            z=list(days.values()),
            x=list(range(24)),
            y=list(days),
            colorscale="RdYlGn_r",
            colorbar={"title": "kgCO₂/kWh"},
            hovertemplate="%{y} %{x}:00 — %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=t["factor_heatmap"],
        xaxis_title=t["hour_of_day"],
        yaxis={"type": "category", "autorange": "reversed"},  # local dates as labels, newest last
        **{**LAYOUT, "height": 420},
    )
    return _html(fig, "fig-heatmap")


def grid_topology(topo: Topology, t: dict[str, str], tz: ZoneInfo, top: float, wall: bool = False) -> str:
    """Buses coloured by their hour's nodal factor, lines as wide as the energy they carried,
    one frame per hour with a time slider (the latest hour shown first)."""
    substations = sorted({b.substation for b in topo.buses})
    place: dict[int, tuple[float, float]] = {}
    rows: dict[str, int] = {}
    for b in topo.buses:  # a column per substation, its buses below each other
        row = rows[b.substation] = rows.get(b.substation, -1) + 1
        place[b.id] = (3.0 * substations.index(b.substation), -1.0 * row)
    lines = [line for line in topo.lines if line.from_bus_id in place and line.to_bus_id in place]
    hours = sorted(topo.nodal)
    widest = max((abs(v) for flows in topo.flows.values() for v in flows.values()), default=1.0) or 1.0

    def traces(hour: datetime) -> list[go.Scatter]:
        flows = topo.flows.get(hour, {})
        nodal = topo.nodal.get(hour, {})
        data = [
            go.Scatter(
                x=[place[line.from_bus_id][0], place[line.to_bus_id][0]],
                y=[place[line.from_bus_id][1], place[line.to_bus_id][1]],
                mode="lines",
                line={"width": 1 + 12 * abs(flows.get(line.id, 0.0)) / widest, "color": "#7f8c8d"},
                hovertext=f"{line.code}: {flows.get(line.id, 0.0):,.1f} kWh",
                hoverinfo="text",
                showlegend=False,
            )
            for line in lines
        ]
        data.append(
            go.Scatter(
                x=[place[b.id][0] for b in topo.buses],
                y=[place[b.id][1] for b in topo.buses],
                mode="markers+text",
                text=[b.code for b in topo.buses],
                textposition="top center",
                hovertext=[f"{b.name}: {_fmt(nodal.get(b.id))} kgCO₂/kWh" for b in topo.buses],
                hoverinfo="text",
                marker={
                    "size": 22,
                    "color": [nodal.get(b.id) if nodal.get(b.id) is not None else 0 for b in topo.buses],
                    "colorscale": "RdYlGn_r",
                    "cmin": 0,
                    "cmax": top,
                    "colorbar": {"title": "kgCO₂/kWh"},
                    "line": {"width": 1, "color": "#333"},
                },
                showlegend=False,
            )
        )
        return data

    label = [h.astimezone(tz).strftime("%m-%d %H:%M") for h in hours]
    fig = go.Figure(
        data=traces(hours[-1]) if hours else [],
        frames=[go.Frame(data=traces(h), name=n) for h, n in zip(hours, label, strict=True)],
    )
    fig.update_layout(
        title=t["nodal_factors"],
        xaxis={"visible": False},
        yaxis={"visible": False},
        sliders=[
            {
                "active": len(hours) - 1,
                "currentvalue": {"prefix": t["hour"] + ": "},
                "steps": [
                    {
                        "label": n,
                        "method": "animate",
                        "args": [[n], {"mode": "immediate", "frame": {"duration": 0}}],
                    }
                    for n in label
                ],
            }
        ]
        if hours
        else [],
        **{**LAYOUT, "height": 460, "margin": {"l": 20, "r": 20, "t": 40, "b": 80}},
    )
    return _html(fig, "fig-topology", wall)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def sankey(links: Sequence[tuple[str, str, float]], unit: str, div: str, wall: bool = False) -> str:
    """A Sankey of (source, target, value) links; a node is named once, wherever it appears."""
    labels: list[str] = []
    index: dict[str, int] = {}
    for source, target, _ in links:
        for name in (source, target):
            if name not in index:
                index[name] = len(labels)
                labels.append(name)
    drawn = [(s, d, v) for s, d, v in links if v > 1e-9]
    fig = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 12, "thickness": 14, "color": "#0b7a53"},
            link={
                "source": [index[s] for s, _, _ in drawn],
                "target": [index[d] for _, d, _ in drawn],
                "value": [v for _, _, v in drawn],
            },
            valuesuffix=f" {unit}",
            valueformat=",.0f",
        )
    )
    fig.update_layout(**{**LAYOUT, "height": 640})
    return _html(fig, div, wall)


def energy_and_load(
    points: Sequence[Point],
    resolution: str,
    t: dict[str, str],
    tz: ZoneInfo,
    peaks: Sequence[PowerPoint] = (),
    div: str = "fig-energy",
) -> str:
    """Electricity per interval (bars; an interval whose data is not all measured is drawn
    in amber), the mean load over it (kW = kWh ÷ hours) and, from the power readings, its
    highest quarter-hour demand; gas and heat to switch on."""
    electricity = [p for p in points if p.series == "electricity"]
    starts = [p.start.astimezone(tz) for p in electricity]
    hours = [_interval_hours(p.start.astimezone(tz), resolution) for p in electricity]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=starts,
            y=[p.value for p in electricity],
            name=f"{t['carrier_electricity']} kWh",
            marker_color=["#4f81bd" if p.quality == "ok" else "#e6a23c" for p in electricity],
            customdata=[[p.quality, 100 * p.covered_share] for p in electricity],
            hovertemplate="%{x}: %{y:,.1f} kWh · %{customdata[0]} · %{customdata[1]:.0f}%<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=starts,
            y=[p.value / h for p, h in zip(electricity, hours, strict=True)],
            name=f"{t['mean_load']} kW",
            mode="lines",
            line={"color": "#0b7a53"},
        ),
        secondary_y=True,
    )
    if peaks:
        fig.add_trace(
            go.Scatter(
                x=[p.start.astimezone(tz) for p in peaks],
                y=[p.kw_peak for p in peaks],
                name=f"{t['peak_demand']} kW",
                mode="lines",
                line={"color": "#8064a2", "dash": "dot"},
            ),
            secondary_y=True,
        )
    for series, unit, colour in (("natural_gas", "m³", "#e6843c"), ("heat", "GJ", "#c0504d")):
        rows = [p for p in points if p.series == series]
        if rows:
            fig.add_trace(
                go.Bar(
                    x=[p.start.astimezone(tz) for p in rows],
                    y=[p.value for p in rows],
                    name=f"{t['carrier_' + series]} {unit}",
                    marker_color=colour,
                    visible="legendonly",
                ),
                secondary_y=False,
            )
    fig.update_layout(
        title=t[f"energy_at_{resolution}"],
        legend={"orientation": "h"},
        barmode="group",
        **{**LAYOUT, "height": 360},
    )
    fig.update_yaxes(title_text=t["energy_axis"], secondary_y=False)
    fig.update_yaxes(title_text="kW", secondary_y=True, rangemode="tozero")
    return _html(fig, div)


def _interval_hours(start: datetime, resolution: str) -> float:
    if resolution == "15min":
        return 0.25
    if resolution == "hour":
        return 1.0
    if resolution == "day":
        return 24.0
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - start).total_seconds() / 3600.0


def emissions_by_carrier(days: Sequence[CarrierDay], t: dict[str, str]) -> str:
    """Each local day's emissions by scope and carrier (location-based, stacked), and the
    market-based total as a line."""
    x = [d.day for d in days]
    fig = go.Figure(
        [
            go.Bar(x=x, y=[d.fuel_kg / 1000 for d in days], name=t["scope1_fuel"], marker_color="#c0504d"),
            go.Bar(
                x=x,
                y=[d.electricity_kg / 1000 for d in days],
                name=t["scope2_electricity"],
                marker_color="#4f81bd",
            ),
            go.Bar(x=x, y=[d.heat_kg / 1000 for d in days], name=t["scope2_heat"], marker_color="#e6843c"),
            go.Scatter(
                x=x,
                y=[d.market_total_kg / 1000 for d in days],
                name=t["market_total"],
                mode="lines+markers",
                line={"color": "#2ca02c", "dash": "dot"},
            ),
        ]
    )
    fig.update_layout(
        barmode="stack",
        title=t["emissions_by_carrier"],
        yaxis_title="tCO₂",
        legend={"orientation": "h"},
        **LAYOUT,
    )
    return _html(fig, "fig-carriers")


def core_trend(trend: CoreTrend, t: dict[str, str]) -> str:
    """单位能耗碳排放 per month since the base year, with the base year's level as a line."""
    x = [m.month for m in trend.months]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=[m.carbon_per_energy for m in trend.months],
            name=t["core_indicator"],
            marker_color="#0b7a53",
            customdata=[m.hours for m in trend.months],
            hovertemplate="%{x|%Y-%m}: %{y:.3f} tCO₂/tce · %{customdata} h<extra></extra>",
        )
    )
    if trend.base_year_value is not None:
        fig.add_hline(
            y=trend.base_year_value,
            line_dash="dot",
            line_color="#c0504d",
            annotation_text=t["base_year_level"],
        )
    fig.update_layout(title=t["core_trend"], yaxis_title="tCO₂/tce", xaxis={"tickformat": "%Y-%m"}, **LAYOUT)
    return _html(fig, "fig-core-trend")
