"""The hour's carbon balance: every kilogram that enters the park is allocated exactly once.

    carbon in  = grid import × grid factor + CHP electricity's fuel CO2 + opening storage
    allocated  = enterprises (their location-based electricity, emission rows)
               + public load and unmetered users + the park's battery losses
               + exports (at their bus's factor) + the batteries' change of stored carbon
    residual   = carbon in − allocated

The enterprises' share is what the emissions step wrote for them, and the public load is every
kWh leaving the network (the factor pass, factor_hours.py) less what the enterprise meters
took at each bus, valued at that bus's factor — the meters' kWh, read by the emissions step in
the same scan, not its allocation: an allocation that loses or doubles carbon shows. The residual
is zero to rounding (1e-9 relative) when the allocation conserves carbon; anything else is a
defect of the method or of the park's metering (an enterprise meter without a bus in a park
with a topology, a dedicated green line on another bus than its meter, an enterprise
meter's energy at a bus without flux), and is stored with the park's factor
(``carbon_factor_hourly.enterprises_kg``, ``public_kg`` and ``conservation_residual_kg``, the
other terms in ``inputs.balance``) for the API and alerts.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.carbon.factor_hours import BalanceTerms

RELATIVE_TOLERANCE = 1e-9

STORE_BALANCE_SQL = text(
    """
UPDATE carbon_factor_hourly f  -- three numbers: the inputs document (TOASTed) is not rewritten
SET enterprises_kg = r.enterprises_kg, public_kg = r.public_kg, conservation_residual_kg = r.residual_kg
FROM jsonb_to_recordset(CAST(:records AS jsonb))
     AS r(hour_start timestamptz, enterprises_kg float8, public_kg float8, residual_kg float8)
WHERE f.park_id = :park_id AND f.bus_id IS NULL AND f.hour_start = r.hour_start
"""
)


def residual_of(terms: BalanceTerms, enterprises_kg: float, public_kg: float) -> float:
    allocated = enterprises_kg + public_kg + terms.export_kg + terms.storage_change_kg
    residual = terms.carbon_in_kg - allocated
    # rounding of sums of a few thousand products: zero within the tolerance
    scale = max(abs(terms.carbon_in_kg), abs(allocated), 1e-9)
    return 0.0 if abs(residual) <= RELATIVE_TOLERANCE * scale else residual


def store_balance(
    session: Session, park_id: int, terms: dict[datetime, BalanceTerms], allocated_kg: dict[datetime, float]
) -> int:
    """Complete each hour's balance with what the enterprises took and were allocated (their
    battery losses included) and store it with its residual. Returns the unbalanced hours."""
    records = []
    unbalanced = 0
    for hour, hour_terms in terms.items():
        losses = sum(kg for _, _, kg in hour_terms.enterprise_losses)
        enterprises_kg = allocated_kg.get(hour, 0.0) + losses
        public_kg = hour_terms.public_kg()
        residual = residual_of(hour_terms, enterprises_kg, public_kg)
        unbalanced += residual != 0.0
        records.append(
            {
                "hour_start": hour,
                "enterprises_kg": enterprises_kg,
                "public_kg": public_kg,
                "residual_kg": residual,
            }
        )
    if records:
        session.execute(STORE_BALANCE_SQL, {"park_id": park_id, "records": orjson.dumps(records).decode()})
    return unbalanced
