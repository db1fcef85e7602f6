"""The hour's carbon balance: every kilogram that enters the park is allocated exactly once.

    carbon in  = grid import × grid factor + CHP electricity's fuel CO2 + opening storage
    allocated  = enterprises (their location-based electricity, emission rows)
               + public load and unmetered users + the park's battery losses
               + exports (at their bus's factor) + the batteries' change of stored carbon
    residual   = carbon in − allocated

The enterprises' share is read back from what the emissions step wrote (an independent path
over the meters), the other terms come from the factor pass (factor_hours.py). The residual
is zero to rounding (1e-9 relative) when the allocation conserves carbon; anything else is a
defect of the method or of the park's metering (an enterprise meter without a bus in a park
with a topology, a dedicated green line on another bus than its meter, an enterprise
meter's energy at a bus without flux), and is stored with the park's factor
(``carbon_factor_hourly.enterprises_kg`` and ``conservation_residual_kg``, the other terms in
``inputs.balance``) for the API and alerts.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon import factors
from services.carbon.factor_hours import BalanceTerms

RELATIVE_TOLERANCE = 1e-9

# Enterprises' location-based electricity CO2 per hour: scope 2 less their purchased heat
# (emissions.py adds heat as GJ × HEAT_KG_PER_GJ in both views).
ENTERPRISES_KG_SQL = text(
    """
SELECT hour_start, sum(scope2_kg - heat_gj * :heat_ef) AS kg FROM emission_hourly
WHERE park_id = :park_id AND enterprise_id IS NOT NULL AND hour_start >= :lo AND hour_start < :hi
GROUP BY hour_start
"""
)

STORE_BALANCE_SQL = text(
    """
UPDATE carbon_factor_hourly f  -- two numbers: the inputs document (TOASTed) is not rewritten
SET enterprises_kg = r.enterprises_kg, conservation_residual_kg = r.residual_kg
FROM jsonb_to_recordset(CAST(:records AS jsonb))
     AS r(hour_start timestamptz, enterprises_kg float8, residual_kg float8)
WHERE f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start = r.hour_start
"""
)


def residual_of(terms: BalanceTerms, enterprises_kg: float) -> float:
    allocated = enterprises_kg + terms.public_kg + terms.export_kg + terms.storage_change_kg
    residual = terms.carbon_in_kg - allocated
    # rounding of sums of a few thousand products: zero within the tolerance
    scale = max(abs(terms.carbon_in_kg), abs(allocated), 1e-9)
    return 0.0 if abs(residual) <= RELATIVE_TOLERANCE * scale else residual


def store_balance(
    session: Session, park_id: int, start: datetime, end: datetime, terms: dict[datetime, BalanceTerms]
) -> int:
    """Complete each hour's balance with the enterprises' allocation and store its residual.
    Returns the hours whose residual is not zero."""
    enterprises: dict[datetime, float] = dict(
        session.execute(
            ENTERPRISES_KG_SQL,
            {"park_id": park_id, "lo": start, "hi": end, "heat_ef": factors.HEAT_KG_PER_GJ.value},
        )
        .tuples()
        .all()
    )
    records = []
    unbalanced = 0
    for hour, hour_terms in terms.items():
        enterprises_kg = float(enterprises.get(hour) or 0.0)
        residual = residual_of(hour_terms, enterprises_kg)
        unbalanced += residual != 0.0
        records.append({"hour_start": hour, "enterprises_kg": enterprises_kg, "residual_kg": residual})
    if records:
        session.execute(
            STORE_BALANCE_SQL,
            {"park_id": park_id, "records": orjson.dumps(records).decode()},
        )
    return unbalanced
