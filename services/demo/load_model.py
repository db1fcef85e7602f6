"""Deterministic load profiles for demo meters.

Power is piecewise constant over 15-minute slots (its value drawn from a daily shape and a
seeded hash, so it is the same whenever it is asked for); a cumulative register is the
integral of that power from a fixed epoch. The backfill and the live Modbus simulators read
the same functions, so history and live data join without a step.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

SLOT_S = 900.0
# The demo park is in Jiangsu: its clock is Asia/Shanghai (UTC+8, no daylight saving), whatever
# PARKCARBON_TIMEZONE says for the parks a deployment serves.
DEMO_PARK_TIMEZONE = "Asia/Shanghai"
PARK_UTC_OFFSET_H = 8


def _noise(key: str, slot: int) -> float:
    """Uniform in [0, 1), reproducible for (key, slot)."""
    digest = hashlib.blake2b(f"{key}:{slot}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def local_hour(ts: float) -> float:
    return ((ts / 3600.0) + PARK_UTC_OFFSET_H) % 24.0


def weekday(ts: float) -> int:
    return datetime.fromtimestamp(ts + PARK_UTC_OFFSET_H * 3600, UTC).weekday()


@dataclass
class Profile:
    """How one meter's rate varies: ``kind`` picks the shape, ``scale`` its size (per hour)."""

    key: str
    kind: str  # "three_shift", "day_shift", "public", "pv", "storage", "chp", "gas", "heat"
    scale: float
    start_value: float
    epoch: float  # unix time the registers start from (fixed per demo park)
    _integrals: dict[int, tuple[float, float]] = field(default_factory=dict, repr=False)
    _highest: int = field(default=0, repr=False)  # the cache holds slots 1…_highest, no holes

    # A composite meter (feeder, grid connection, sub-meter) sees a weighted sum of others.
    members: list[tuple[Profile, float]] = field(default_factory=list)

    def rate(self, slot: int) -> float:
        """Rate in unit/h during ``slot`` (kW, m³/h, GJ/h); storage: + charge, − discharge."""
        if self.members:
            return sum(weight * member.rate(slot) for member, weight in self.members)
        ts = self.epoch + slot * SLOT_S
        hour = local_hour(ts)
        jitter = _noise(self.key, slot)
        if self.kind == "pv":
            sun = math.sin(math.pi * (hour - 6.0) / 12.0) if 6.0 <= hour <= 18.0 else 0.0
            clouds = 0.55 + 0.45 * _noise(self.key, slot // 8)
            return self.scale * sun * clouds
        if self.kind == "storage":  # charge in the valley, discharge at the evening peak
            if 0.0 <= hour < 6.0:
                return self.scale
            if 18.0 <= hour < 21.0:
                return -self.scale * 1.8
            return 0.0
        weekend = weekday(ts) >= 5
        if self.kind == "three_shift":
            shape = 0.85 + 0.1 * math.sin(math.pi * hour / 12.0)
        elif self.kind == "day_shift":
            shape = 1.0 if 8.0 <= hour < 18.0 else 0.3
            shape *= 0.5 if weekend else 1.0
        elif self.kind == "public":
            shape = 0.6 + (0.4 if 18.0 <= hour < 23.0 else 0.0)
        elif self.kind == "chp":  # heat-led: full output in the working day, part load at night
            shape = 0.95 if 7.0 <= hour < 22.0 else 0.55
        else:  # gas, heat: process demand following a day-shift pattern, softened
            shape = 0.7 if 8.0 <= hour < 18.0 else 0.45
        return self.scale * shape * (0.9 + 0.2 * jitter)

    def _integrals_at_slot(self, slot: int) -> tuple[float, float]:
        """(∫ positive rate, ∫ negative rate) from the epoch to the start of ``slot``."""
        if slot <= 0:
            return self.start_value, self.start_value
        cached = self._integrals.get(slot)
        if cached is not None:
            return cached
        known = self._highest  # a miss is always above the cached run: continue from its top
        pos, neg = self._integrals.get(known, (self.start_value, self.start_value))
        for s in range(known, slot):
            rate = self.rate(s) * SLOT_S / 3600.0
            pos, neg = pos + max(rate, 0.0), neg + max(-rate, 0.0)
            self._integrals[s + 1] = (pos, neg)
        self._highest = max(self._highest, slot)
        return pos, neg

    def _slot(self, ts: float) -> tuple[int, float]:
        slot = math.floor((ts - self.epoch) / SLOT_S)
        return slot, (ts - self.epoch) - slot * SLOT_S

    def cumulative(self, ts: float) -> float:
        """Register of the positive part (energy imported, charged, volume, heat)."""
        slot, into = self._slot(ts)
        return self._integrals_at_slot(slot)[0] + max(self.rate(slot), 0.0) * into / 3600.0

    def cumulative_negative(self, ts: float) -> float:
        """Register of the negative part (storage discharge)."""
        slot, into = self._slot(ts)
        return self._integrals_at_slot(slot)[1] + max(-self.rate(slot), 0.0) * into / 3600.0

    def instantaneous(self, ts: float) -> float:
        return self.rate(self._slot(ts)[0])
