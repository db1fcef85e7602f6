"""Cumulative registers: rollover, meter replacement, reset and impossible jumps, each
against a hand computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.carbon import interval_energy
from services.carbon.interval_energy import compute_energy, compute_interval_energy
from services.core.models import IntervalEnergy, IntervalEnergy15m, MeterReplacement, MeterRole, Reading
from tests.factories import make_meter, make_park

H = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai


def _readings(session: Session, meter_id: int, values: list[tuple[int, float]]) -> None:
    session.add_all(
        Reading(meter_id=meter_id, quantity="energy_import_kwh", ts=H + timedelta(minutes=m), value=v)
        for m, v in values
    )


@pytest.mark.parametrize("from_quarters", [False, True], ids=["hours", "hours_from_quarters"])
def test_rollover_replacement_reset_and_impossible_jump(session: Session, from_quarters: bool) -> None:
    park = make_park(session)
    rolls = make_meter(session, park, "ROLL", MeterRole.SUBMETER)
    rolls.register_max = 10000.0
    swapped = make_meter(session, park, "SWAP", MeterRole.SUBMETER)
    resets = make_meter(session, park, "RESET", MeterRole.SUBMETER)
    jumps = make_meter(session, park, "JUMP", MeterRole.SUBMETER)
    jumps.rated_max_per_hour = 100.0
    # ROLL: 9950 → 9990 → (wraps at 10000) 30: 40 + (10000 − 9990 + 30) = 80 kWh
    _readings(session, rolls.id, [(0, 9950.0), (30, 9990.0), (60, 30.0)])
    # SWAP: 500 → 520, replaced at 10:40 (old register shows 525, new one starts at 0), 12:
    # 20 + (525 − 520) + (12 − 0) = 37 kWh
    _readings(session, swapped.id, [(0, 500.0), (30, 520.0), (60, 12.0)])
    session.add(
        MeterReplacement(
            meter_id=swapped.id,
            quantity="energy_import_kwh",
            replaced_at=H + timedelta(minutes=40),
            old_final_value=525.0,
            new_initial_value=0.0,
        )
    )
    # RESET: 500 → 520 → 7 with no rollover configured: 20 + 7 = 27 kWh
    _readings(session, resets.id, [(0, 500.0), (30, 520.0), (60, 7.0)])
    # JUMP: rated 100 kW, so half an hour can add at most 1.5 × 100 × 0.5 = 75 kWh;
    # 100 → 140 (40, fine) → 5000 (4860, impossible): 40 kWh counted, hour flagged
    _readings(session, jumps.id, [(0, 100.0), (30, 140.0), (60, 5000.0)])
    session.flush()

    derive = compute_energy if from_quarters else compute_interval_energy
    derive(session, H, H + timedelta(hours=1), timedelta(minutes=60))
    rows = {
        r.meter_id: r for r in session.scalars(select(IntervalEnergy).where(IntervalEnergy.hour_start == H))
    }
    expected = {
        rolls.id: (80.0, "rollover"),
        swapped.id: (37.0, "replaced"),
        resets.id: (27.0, "reset"),
        jumps.id: (40.0, "implausible"),
    }
    for meter_id, (kwh, quality) in expected.items():
        assert rows[meter_id].value == pytest.approx(kwh)
        assert rows[meter_id].quality == quality
    if not from_quarters:
        return
    # The quarters, by the same derivation: each segment spread over the quarters it spans.
    quarters: dict[int, list[tuple[float, str]]] = {}
    for q in session.scalars(select(IntervalEnergy15m).order_by(IntervalEnergy15m.interval_start)):
        quarters.setdefault(q.meter_id, []).append((q.value, q.quality))
    # ROLL: 0→30 min +40 (20 a quarter), 30→60 min wraps: +40 (20 a quarter)
    assert quarters[rolls.id] == [(20.0, "ok"), (20.0, "ok"), (20.0, "rollover"), (20.0, "rollover")]
    # SWAP: 0→30 min +20 (10 a quarter); 30→60 min (525 − 520) + (12 − 0) = 17 (8.5 a quarter)
    assert [v for v, _ in quarters[swapped.id]] == pytest.approx([10.0, 10.0, 8.5, 8.5])
    assert [q for _, q in quarters[swapped.id]] == ["ok", "ok", "replaced", "replaced"]
    # JUMP: 100→140 (+40, 20 a quarter); 140→5000 implausible: flagged, not counted
    assert quarters[jumps.id] == [(20.0, "ok"), (20.0, "ok"), (0.0, "implausible"), (0.0, "implausible")]


def test_fast_path_equals_the_segment_path_on_irregular_registers(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast paths (boundary and window) and the exact segment path give the same hours
    (value, covered seconds, quality) on irregular polls and on registers read on the hour
    boundaries, with resets, rollovers, missed boundary readings and gaps."""
    import random

    rng = random.Random(20261121)
    park = make_park(session)
    meters = [make_meter(session, park, f"FAST-{k}", MeterRole.SUBMETER) for k in range(30)]
    for k, meter in enumerate(meters):
        if k % 10 == 3:
            meter.register_max = 100_000.0
        ts, value = H - timedelta(hours=2), rng.uniform(1_000, 90_000)
        while ts < H + timedelta(hours=12):
            ts += timedelta(minutes=rng.uniform(3, 20) if k % 10 != 7 else rng.choice([10, 10, 95]))
            value += rng.uniform(0, 40)
            if k % 10 in (3, 5) and rng.random() < 0.02:
                value = rng.uniform(0, 5)  # reset (or rollover where register_max is set)
            session.add(Reading(meter_id=meter.id, quantity="energy_import_kwh", ts=ts, value=value))
    # Registers read every 15 minutes on the clock (…:00, …:15, …), the boundary path's case:
    # clean ones, and ones with a reset, a missed reading on an hour, a 95-minute gap, a
    # flat hour, a reading missed inside an hour, a misread below the hour's first reading.
    aligned = [make_meter(session, park, f"GRID-{k}", MeterRole.SUBMETER) for k in range(12)]
    for k, meter in enumerate(aligned):
        value = rng.uniform(1_000, 90_000)
        for step in range(-8, 12 * 4 + 1):
            ts = H + timedelta(minutes=15 * step)
            value += 0.0 if k == 9 and 8 <= step < 12 else rng.uniform(0, 40)
            if k == 6 and step == 20:
                value = rng.uniform(0, 5)  # reset
            if (k == 7 and step == 16) or (k == 8 and 21 <= step < 27) or (k == 10 and step == 30):
                continue  # a missed reading on an hour; a 95-minute gap; one inside an hour
            misread = k == 11 and step == 33  # counted as a reset by the segment path
            read = value - 60 if misread else value
            session.add(Reading(meter_id=meter.id, quantity="energy_import_kwh", ts=ts, value=read))
    session.flush()

    def hours(
        fast: bool, from_quarters: bool = False
    ) -> dict[tuple[int, datetime], tuple[float, float, str]]:
        derive = compute_energy if from_quarters else compute_interval_energy
        derive(session, H, H + timedelta(hours=10), timedelta(minutes=60), fast=fast)
        return {
            (r.meter_id, r.hour_start): (r.value, r.covered_seconds, r.quality)
            for r in session.scalars(select(IntervalEnergy).where(IntervalEnergy.hour_start >= H))
        }

    exact = hours(False)
    # the range also recomputed in spans (a day in production; 3 hours here, so series cross
    # span boundaries and are handed over in some spans only)
    fast = hours(True)
    monkeypatch.setattr(interval_energy, "SPAN", timedelta(hours=3))
    assert len(exact) > 370
    assert {q for _, _, q in exact.values()} >= {"ok", "gap", "reset", "rollover"}
    # the hours summed from quarters derived by the same statements (fast and exact paths)
    for n, computed in enumerate((fast, hours(True), hours(False), hours(True, True), hours(False, True))):
        assert computed.keys() == exact.keys()
        for key, (value, covered, quality) in exact.items():
            assert computed[key][0] == pytest.approx(value, rel=1e-9, abs=1e-6), (n, key)
            assert computed[key][1] == pytest.approx(covered, abs=1e-3), key
            assert computed[key][2] == quality, key


def test_a_segment_spanning_the_hours_is_spread_by_every_path(session: Session) -> None:
    """With a maximum gap over an hour, a segment may span every hour recomputed without a
    reading in them: the fast path hands the series over instead of losing the hour."""
    park = make_park(session)
    meter = make_meter(session, park, "SPAN", MeterRole.SUBMETER)
    _readings(session, meter.id, [(-70, 100.0), (-10, 130.0), (70, 210.0), (130, 240.0)])
    session.flush()
    for fast in (False, True):
        compute_interval_energy(session, H, H + timedelta(hours=1), timedelta(hours=2), fast=fast)
        row = session.scalars(select(IntervalEnergy).where(IntervalEnergy.meter_id == meter.id)).one()
        # the segment −10 … +70 min (80 kWh) spread over time: 60 of its 80 minutes in the hour
        assert row.value == pytest.approx(80.0 * 60 / 80)
        assert row.covered_seconds == pytest.approx(3600)
