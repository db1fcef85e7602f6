"""What gateways sent: readings, and the telemetry that was rejected (quarantine)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Double, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from services.core.models.base import Base


class Reading(Base):
    """One telemetry value. On TimescaleDB a hypertable on ``ts`` (see storage_policy).

    The key leads with ``ts``: readings arrive in time order, so every insert lands at the
    right edge of the index instead of in one leaf page per series, which doubles COPY
    throughput on plain PostgreSQL (see ``parkcarbon bench ingest``). Every query on this
    table is therefore bounded in time; per-meter history older than the window lives in
    ``interval_energy``.
    """

    __tablename__ = "reading"
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # BRIN: arrival order is the heap's order, so the minute alert evaluator finds what
    # arrived since its last cycle (services/alerts/scan.py) for next to nothing on insert
    __table_args__ = (Index("ix_reading_received_at", "received_at", postgresql_using="brin"),)


class QuarantinedTelemetry(Base):
    """A rejected message or reading, kept with its reason and raw payload for operators."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The park the telemetry was sent to (topic segment, or the HTTP token's park); NULL when
    # the sender named no park this deployment knows. Operators see their park's entries only.
    park_id: Mapped[int | None] = mapped_column(ForeignKey("park.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    source: Mapped[str] = mapped_column(String(300))  # MQTT topic or "http:<gateway>"
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    meter_code: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
