"""Cumulative registers: rollover, meter replacement, reset and impossible jumps, each
against a hand computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.carbon.interval_energy import compute_interval_energy
from services.core.models import IntervalEnergy, MeterReplacement, MeterRole, Reading
from tests.factories import make_meter, make_park

H = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai


def _readings(session: Session, meter_id: int, values: list[tuple[int, float]]) -> None:
    session.add_all(
        Reading(meter_id=meter_id, quantity="energy_import_kwh", ts=H + timedelta(minutes=m), value=v)
        for m, v in values
    )


def test_rollover_replacement_reset_and_impossible_jump(session: Session) -> None:
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

    compute_interval_energy(session, H, H + timedelta(hours=1), timedelta(minutes=60))
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
