"""The conservation check every carbon test ends with (issue 14 §1): in every hour of every
park, carbon in = enterprises + public load + exports + change of stored carbon.

It re-adds the stored terms itself and reads the enterprises' share from their emission
rows, so a wrong residual in the engine's own arithmetic is caught too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

HEAT_KG_PER_GJ = 110.0

HOURS_SQL = text(
    """
SELECT f.park_id, f.hour_start, f.conservation_residual_kg, f.inputs->'balance' AS balance,
       f.enterprises_kg AS stored_enterprises_kg, f.public_kg,
       (SELECT coalesce(sum(e.scope2_kg - e.heat_gj * :heat), 0) FROM emission_hourly e
        WHERE e.park_id = f.park_id AND e.hour_start = f.hour_start AND e.enterprise_id IS NOT NULL)
           AS enterprises_kg
FROM carbon_factor_hourly f WHERE f.bus_id IS NULL
"""
)


def assert_conserved(session: Session) -> int:
    """Every park hour balances; returns the hours checked."""
    hours = 0
    for row in session.execute(HOURS_SQL, {"heat": HEAT_KG_PER_GJ}):
        b = row.balance
        assert b is not None, f"park {row.park_id} {row.hour_start}: no balance stored"
        assert row.stored_enterprises_kg == pytest.approx(row.enterprises_kg, rel=1e-9, abs=1e-9)
        allocated = row.enterprises_kg + row.public_kg + b["export_kg"] + b["storage_change_kg"]
        assert b["carbon_in_kg"] == pytest.approx(allocated, rel=1e-9, abs=1e-9), (
            f"park {row.park_id} {row.hour_start}: carbon not conserved {dict(b)}"
        )
        assert row.conservation_residual_kg == 0.0
        hours += 1
    return hours


@pytest.fixture
def conserved(session: Session) -> Iterator[None]:
    """Use as ``pytestmark = pytest.mark.usefixtures("conserved")``: every test of the module
    ends with the conservation check on what it computed."""
    yield
    assert_conserved(session)
