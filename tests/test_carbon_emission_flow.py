"""Carbon emission flow: a hand-worked three-bus example, and MATPOWER's IEEE 14-bus case with
a DC power flow solved here, checked against an independent sequential tracing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from services.carbon.cef import Network, solve
from services.cli import app


def test_three_buses_by_hand() -> None:
    # Bus A: coal plant 100 MW at 0.9 kg/kWh; bus B: PV 50 MW at 0. A→B carries 60 MW.
    # B's inflows: 60 MW at 0.9 and 50 MW at 0 → w_B = 54 / 110 = 0.490909…
    # B→C carries 80 MW at w_B; C has a 20 MW gas unit at 0.4 → w_C = (80·0.490909 + 8) / 100
    #   = (39.272727 + 8) / 100 = 0.47272727…
    # Loads: A 40, B 30, C 100: 40·0.9 + 30·0.490909 + 100·0.472727 = 36 + 14.727273 + 47.272727
    #   = 98 t/h = 100·0.9 + 20·0.4 (generation), the carbon balance.
    network = Network.model_validate(
        {
            "branches": [{"from": "A", "to": "B", "p_mw": 60}, {"from": "C", "to": "B", "p_mw": -80}],
            "injections": [
                {"bus": "A", "p_mw": 100, "intensity_kg_per_kwh": 0.9},
                {"bus": "B", "p_mw": 50, "intensity_kg_per_kwh": 0.0},
                {"bus": "C", "p_mw": 20, "intensity_kg_per_kwh": 0.4},
            ],
            "loads": [{"bus": "A", "p_mw": 40}, {"bus": "B", "p_mw": 30}, {"bus": "C", "p_mw": 100}],
        }
    )
    result = solve(network)
    assert result.nodes["A"] == pytest.approx(0.9)
    assert result.nodes["B"] == pytest.approx(54 / 110)
    assert result.nodes["C"] == pytest.approx(0.47272727272727)
    assert result.load_t_per_h == pytest.approx(98.0)
    # the balance from the nodal intensities themselves, not the solver's own sums
    loads = {"A": 40, "B": 30, "C": 100}
    assert sum(mw * (result.nodes[bus] or 0.0) for bus, mw in loads.items()) == pytest.approx(98.0, rel=1e-12)
    assert result.branch_flows[1]["carbon_t_per_h"] == pytest.approx(80 * 54 / 110)


# MATPOWER case14 (Washington IEEE 14-bus test case): loads Pd (MW) and branches
# (from, to, x p.u., tap ratio; 0 = no transformer). Generators at 1 (slack), 2, 3, 6, 8:
# MATPOWER's dispatch (2: 40 MW, 3, 6, 8 synchronous condensers at 0 MW), and one where
# every unit runs (1/2/3/6/8 at 120/40/60/19/20 MW; the loads total 259 MW).
CASE14_LOADS = {
    2: 21.7,
    3: 94.2,
    4: 47.8,
    5: 7.6,
    6: 11.2,
    9: 29.5,
    10: 9.0,
    11: 3.5,
    12: 6.1,
    13: 13.5,
    14: 14.9,
}
CASE14_BRANCHES = [
    (1, 2, 0.05917, 0), (1, 5, 0.22304, 0), (2, 3, 0.19797, 0), (2, 4, 0.17632, 0),
    (2, 5, 0.17388, 0), (3, 4, 0.17103, 0), (4, 5, 0.04211, 0), (4, 7, 0.20912, 0.978),
    (4, 9, 0.55618, 0.969), (5, 6, 0.25202, 0.932), (6, 11, 0.1989, 0), (6, 12, 0.25581, 0),
    (6, 13, 0.13027, 0), (7, 8, 0.17615, 0), (7, 9, 0.11001, 0), (9, 10, 0.0845, 0),
    (9, 14, 0.27038, 0), (10, 11, 0.19207, 0), (12, 13, 0.19988, 0), (13, 14, 0.34802, 0),
]  # fmt: skip
GEN_INTENSITY = {1: 0.875, 2: 0.525, 3: 0.0, 6: 0.520, 8: 0.0}  # E_G = [875, 525, 0, 520, 0] g/kWh
DISPATCHES = {
    "matpower": {2: 40.0, 3: 0.0, 6: 0.0, 8: 0.0},
    "all_running": {2: 40.0, 3: 60.0, 6: 19.0, 8: 20.0},
}


def _dc_power_flow(
    fixed: dict[int, float],
) -> tuple[dict[int, float], list[tuple[int, int, float]], np.ndarray]:
    """DC power flow as MATPOWER's rundcpf: B from 1/(x·tap), slack at bus 1 (lossless)."""
    n = 14
    b = np.zeros((n, n))
    for f, t, x, tap in CASE14_BRANCHES:
        y = 1.0 / (x * (tap or 1.0))
        b[f - 1, f - 1] += y
        b[t - 1, t - 1] += y
        b[f - 1, t - 1] -= y
        b[t - 1, f - 1] -= y
    p = np.zeros(n)
    for bus, mw in fixed.items():
        p[bus - 1] += mw
    for bus, mw in CASE14_LOADS.items():
        p[bus - 1] -= mw
    theta = np.zeros(n)
    theta[1:] = np.linalg.solve(b[1:, 1:], p[1:] / 100.0)  # 100 MVA base
    flows = [
        (f, t, 100.0 * (theta[f - 1] - theta[t - 1]) / (x * (tap or 1.0))) for f, t, x, tap in CASE14_BRANCHES
    ]
    gens = dict(fixed)
    gens[1] = sum(CASE14_LOADS.values()) - sum(fixed.values())
    return gens, flows, theta


def _trace(
    gens: dict[int, float], flows: list[tuple[int, int, float]], theta: np.ndarray
) -> dict[int, float]:
    """Independent check: DC flows run downhill in angle, so visiting buses by decreasing θ
    meets every bus after all its suppliers; mix their intensities by inflow."""
    w: dict[int, float] = {}
    for bus in sorted(range(1, 15), key=lambda k: -theta[k - 1]):
        carbon = gens.get(bus, 0.0) * GEN_INTENSITY.get(bus, 0.0)
        power = gens.get(bus, 0.0)
        for f, t, p in flows:
            sender, receiver, mw = (f, t, p) if p >= 0 else (t, f, -p)
            if receiver == bus and mw > 1e-9:
                carbon += w[sender] * mw
                power += mw
        w[bus] = carbon / power if power > 1e-9 else GEN_INTENSITY.get(bus, float("nan"))
    return w


@pytest.mark.parametrize("dispatch", sorted(DISPATCHES))
def test_ieee_14_bus_nodal_intensities(dispatch: str) -> None:
    gens, flows, theta = _dc_power_flow(DISPATCHES[dispatch])
    network = Network.model_validate(
        {
            "branches": [{"from": str(f), "to": str(t), "p_mw": p} for f, t, p in flows],
            "injections": [
                {"bus": str(bus), "p_mw": mw, "intensity_kg_per_kwh": GEN_INTENSITY[bus]}
                for bus, mw in gens.items()
            ],
            "loads": [{"bus": str(bus), "p_mw": mw} for bus, mw in CASE14_LOADS.items()],
        }
    )
    result = solve(network)
    expected = _trace(gens, flows, theta)
    for bus in range(1, 15):
        assert result.nodes[str(bus)] == pytest.approx(expected[bus], abs=1e-9), bus
    # carbon balance, by hand: MATPOWER's slack makes 259 − 40 = 219 MW at 0.875 and bus 2
    # 40 at 0.525: 191.625 + 21 = 212.625 tCO2/h. All running: 120 × 0.875 + 40 × 0.525 +
    # 60 × 0 + 19 × 0.520 + 20 × 0 = 105 + 21 + 9.88 = 135.88 tCO2/h. Charged to the loads
    # at the nodal intensities (summed here, not by the solver):
    generated = {"matpower": 212.625, "all_running": 135.88}[dispatch]
    charged = sum(mw * (result.nodes[str(bus)] or 0.0) for bus, mw in CASE14_LOADS.items())
    assert charged == pytest.approx(generated, rel=1e-9)
    assert result.nodes["1"] == pytest.approx(0.875)  # the slack bus is fed by its plant only
    mixed = result.nodes["14"]
    assert mixed is not None
    if dispatch == "matpower":
        assert gens[1] == pytest.approx(219.0)
        assert result.nodes["8"] == 0.0  # synchronous condenser bus: no flux, its own (zero) intensity
        assert result.no_flux_buses == ["8"]
        assert 0.525 < mixed < 0.875  # every load bus mixes the two plants
    else:
        assert gens[1] == pytest.approx(120.0)
        assert result.no_flux_buses == []
        # bus 8 is a leaf fed only by its own 20 MW at zero: all of it flows to bus 7
        assert result.nodes["8"] == pytest.approx(0.0, abs=1e-12)
        flow_87 = next(p for f, t, p in flows if (f, t) == (7, 8))
        assert flow_87 == pytest.approx(-20.0, rel=1e-9)
        assert 0.0 < mixed < 0.875


def test_the_cli_reads_the_documented_json(tmp_path: Path) -> None:
    network = tmp_path / "network.json"
    network.write_bytes(
        orjson.dumps(
            {
                "branches": [{"from": "1", "to": "2", "p_mw": 77.95}],
                "injections": [{"bus": "1", "p_mw": 120, "intensity_kg_per_kwh": 0.875}],
                "loads": [{"bus": "2", "p_mw": 21.7}],
            }
        )
    )
    result = CliRunner().invoke(app, ["carbon", "cef", str(network)])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.output)
    assert out["nodes"] == {"1": pytest.approx(0.875), "2": pytest.approx(0.875)}
    assert out["branches"][0]["carbon_t_per_h"] == pytest.approx(77.95 * 0.875)
    network.write_text('{"branches": [], "injections": [{"bus": "1", "p_mw": -5}]}')
    bad = CliRunner().invoke(app, ["carbon", "cef", str(network)])
    assert bad.exit_code == 1
    assert "intensity_kg_per_kwh" in bad.output
    assert "greater than or equal to 0" in bad.output
