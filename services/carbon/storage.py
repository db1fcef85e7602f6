"""Carbon carried by a battery on the park grid: stored carbon, not stored intensity.

Each battery keeps the energy it was charged with as lots (hour, kWh, kgCO2), the carbon of
a lot being its kWh × the 电碳因子 at the battery's bus in the hour it was charged.
Discharge takes lots first in, first out, and carries their carbon into the park's mix. A
lot (or what is left of it) still in the battery ``STORAGE_MEMORY`` after it was charged
is the battery's loss (round-trip and self-discharge): its kWh and kgCO2 are allocated to
the battery's owner, an enterprise or, for a park battery, the park's public load — the
energy was bought at the boundary, so it is consumed (and counted in energy and tce) by
whoever holds the battery (issue 14 §1: 300 kWh charged at 0.458116 = 137.43 kg, 250 kWh
returned carry 114.53 kg, the 50 kWh lost carry the other 22.90 kg to the owner).

A park battery cycles about daily, hence a day of memory. Energy discharged beyond what the
lots hold (stored before the platform's records began) enters at ``opening`` intensity and
its carbon is reported as ``storage_opening_kg`` in the hour's carbon balance.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

STORAGE_MEMORY = timedelta(hours=24)


@dataclass(slots=True)
class Lot:
    hour_start: datetime
    kwh: float
    kg: float


@dataclass(frozen=True, slots=True)
class Discharge:
    kwh: float
    kg: float  # carried from the lots
    opening_kg: float  # of energy no lot accounted for, at the opening intensity

    @property
    def intensity(self) -> float | None:
        return (self.kg + self.opening_kg) / self.kwh if self.kwh > 0 else None


@dataclass(frozen=True, slots=True)
class Loss:
    kwh: float
    kg: float


@dataclass(slots=True)
class BatteryPool:
    lots: deque[Lot] = field(default_factory=deque)

    @property
    def kwh(self) -> float:
        return sum(lot.kwh for lot in self.lots)

    @property
    def kg(self) -> float:
        return sum(lot.kg for lot in self.lots)

    def expire(self, hour: datetime) -> Loss:
        """Take out what has been stored longer than ``STORAGE_MEMORY`` at ``hour``: lost."""
        kwh = kg = 0.0
        while self.lots and self.lots[0].hour_start < hour - STORAGE_MEMORY:
            lot = self.lots.popleft()
            kwh += lot.kwh
            kg += lot.kg
        return Loss(kwh, kg)

    def discharge(self, kwh: float, opening: float) -> Discharge:
        """Take ``kwh`` first in, first out; what the lots lack enters at ``opening``."""
        wanted, kg = kwh, 0.0
        while wanted > 0 and self.lots:
            lot = self.lots[0]
            taken = min(wanted, lot.kwh)
            share = lot.kg * taken / lot.kwh if lot.kwh > 0 else 0.0
            lot.kwh -= taken
            lot.kg -= share
            kg += share
            wanted -= taken
            if lot.kwh <= 1e-12:
                self.lots.popleft()
        return Discharge(kwh, kg, max(wanted, 0.0) * opening)

    def charge(self, hour: datetime, kwh: float, factor: float) -> float:
        """Store ``kwh`` charged at ``factor``; returns its kgCO2."""
        if kwh <= 0:
            return 0.0
        kg = kwh * factor
        self.lots.append(Lot(hour, kwh, kg))
        return kg

    def state(self) -> list[list[object]]:
        """Lots for orjson (which writes the aware datetime as ISO 8601 itself), stored with the
        hour so the next range resumes from them."""
        return [[lot.hour_start, lot.kwh, lot.kg] for lot in self.lots]

    @classmethod
    def from_state(cls, state: list[list[object]]) -> BatteryPool:
        return cls(
            deque(
                Lot(datetime.fromisoformat(str(h)), float(str(kwh)), float(str(kg))) for h, kwh, kg in state
            )
        )
