"""Nodal carbon intensity by carbon emission flow (碳排放流).

Method: 周天睿, 康重庆, 徐乾耀 等,《电力系统碳排放流的计算方法初探》, 电力系统自动化 2012,
36(11): 44–49 (../shared/reference/carbon-method.md §1). Proportional sharing: every outflow
of a bus carries the flux-weighted average intensity of the bus's inflows.

For N buses and K injections (grid import point, PV, CHP, storage discharge, generators):
``P_B`` (N×N) branch flows, ``P_B[i, j]`` ≥ 0 from bus i to bus j; ``P_G`` (K×N) injections;
``E_G`` (K) their intensities; nodal flux ``P_N = diag(1ᵀ·[P_B; P_G])`` (sum of inflows);

    w = (P_N − P_Bᵀ)⁻¹ · P_Gᵀ · E_G

branch carbon flow ``R_B = diag(w)·P_B`` and load carbon rate ``R_L = P_L ⊙ w``.
Units: power in MW and intensity in kgCO2/kWh (= tCO2/MWh), so carbon rates are tCO2/h.

A bus with no inflow at all (zero flux) makes ``P_N − P_Bᵀ`` singular. It carries no power,
so it needs no intensity for any balance; it is solved out of the system and reported in
``no_flux_buses``. By convention its intensity is that of the injections attached to it
(a generator at zero output, e.g. a synchronous condenser), or null when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Branch(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_bus: str = Field(alias="from", min_length=1)
    to_bus: str = Field(alias="to", min_length=1)
    p_mw: float  # negative: the flow goes from ``to`` to ``from``


class Injection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bus: str = Field(min_length=1)
    p_mw: float = Field(ge=0)
    intensity_kg_per_kwh: float = Field(ge=0)


class Load(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bus: str = Field(min_length=1)
    p_mw: float = Field(ge=0)


class Network(BaseModel):
    model_config = ConfigDict(extra="forbid")
    branches: list[Branch] = Field(default_factory=list)
    injections: list[Injection] = Field(min_length=1)
    loads: list[Load] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_self_loops(self) -> Network:
        loops = [b.from_bus for b in self.branches if b.from_bus == b.to_bus]
        if loops:
            raise ValueError(f"branches from a bus to itself: {sorted(set(loops))}")
        return self

    def buses(self) -> list[str]:
        seen: dict[str, None] = {}
        for b in self.branches:
            seen.setdefault(b.from_bus)
            seen.setdefault(b.to_bus)
        for injection in self.injections:
            seen.setdefault(injection.bus)
        for load in self.loads:
            seen.setdefault(load.bus)
        return list(seen)


@dataclass(frozen=True, slots=True)
class CefResult:
    nodes: dict[str, float | None]  # kgCO2/kWh
    branch_flows: list[dict[str, object]]  # from, to, p_mw, carbon_t_per_h
    load_rates: list[dict[str, object]]  # bus, p_mw, carbon_t_per_h
    injection_t_per_h: float
    load_t_per_h: float
    no_flux_buses: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "branches": self.branch_flows,
            "loads": self.load_rates,
            "injection_carbon_t_per_h": self.injection_t_per_h,
            "load_carbon_t_per_h": self.load_t_per_h,
            "no_flux_buses": self.no_flux_buses,
        }


def solve(network: Network) -> CefResult:
    return solve_flows(
        network.buses(),
        [(b.from_bus, b.to_bus, b.p_mw) for b in network.branches],
        [(i.bus, i.p_mw, i.intensity_kg_per_kwh) for i in network.injections],
        [(load.bus, load.p_mw) for load in network.loads],
    )


def solve_flows(
    buses: list[str],
    branches: list[tuple[str, str, float]],
    injections: list[tuple[str, float, float]],
    loads: list[tuple[str, float]],
) -> CefResult:
    """``solve`` on plain tuples — (from, to, p_mw), (bus, p_mw, intensity), (bus, p_mw) — for
    the hourly pipeline, which solves thousands of hours of already validated data."""
    index = {bus: i for i, bus in enumerate(buses)}
    n = len(buses)
    p_b = np.zeros((n, n))
    for from_bus, to_bus, p_mw in branches:
        i, j = index[from_bus], index[to_bus]
        if p_mw >= 0:
            p_b[i, j] += p_mw
        else:
            p_b[j, i] += -p_mw
    injected = np.zeros(n)  # P_Gᵀ · 1
    carbon_in = np.zeros(n)  # P_Gᵀ · E_G
    for bus, p_mw, intensity in injections:
        injected[index[bus]] += p_mw
        carbon_in[index[bus]] += p_mw * intensity
    flux = p_b.sum(axis=0) + injected  # inflow of each bus
    live = flux > 1e-12
    w = np.full(n, np.nan)
    if live.any():
        a = np.diag(flux[live]) - p_b[np.ix_(live, live)].T
        try:
            w[live] = np.linalg.solve(a, carbon_in[live])
        except np.linalg.LinAlgError:
            # Only flows circulating among buses with no path from any injection (inconsistent
            # measurements) get here: least squares keeps the rest of the network usable.
            w[live] = np.linalg.lstsq(a, carbon_in[live], rcond=None)[0]
    no_flux = [buses[i] for i in range(n) if not live[i]]
    for bus in no_flux:
        attached = [intensity for at, _, intensity in injections if at == bus]
        if attached:
            w[index[bus]] = sum(attached) / len(attached)

    def value(i: int) -> float | None:
        return None if np.isnan(w[i]) else float(w[i])

    branch_flows: list[dict[str, object]] = []
    for from_bus, to_bus, p_mw in branches:
        i, j = index[from_bus], index[to_bus]
        sender = i if p_mw >= 0 else j
        rate = abs(p_mw) * (value(sender) or 0.0)
        branch_flows.append({"from": from_bus, "to": to_bus, "p_mw": p_mw, "carbon_t_per_h": rate})
    load_carbon = [p_mw * (value(index[bus]) or 0.0) for bus, p_mw in loads]
    load_rates: list[dict[str, object]] = [
        {"bus": bus, "p_mw": p_mw, "carbon_t_per_h": rate}
        for (bus, p_mw), rate in zip(loads, load_carbon, strict=True)
    ]
    return CefResult(
        nodes={bus: value(index[bus]) for bus in buses},
        branch_flows=branch_flows,
        load_rates=load_rates,
        injection_t_per_h=float(carbon_in.sum()),
        load_t_per_h=float(sum(load_carbon)),
        no_flux_buses=no_flux,
    )
