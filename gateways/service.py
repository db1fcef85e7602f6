"""The gateway process: every bus polls on its own wall-clock aligned cycle and publishes its
own batches, so a slow or dead meter delays only its own bus; devices on one bus are polled
in turn (one lock: one request in flight on a serial line)."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog

from gateways.config import GatewayConfig
from gateways.modbus_bus import ModbusBus
from gateways.publisher import TelemetryPublisher
from services.core.settings import get_settings

log = structlog.get_logger(__name__)


class GatewayService:
    def __init__(
        self, config: GatewayConfig, mqtt_url: str, mqtt_protocol: str = "5", spool_dir: Path | None = None
    ) -> None:
        self.config = config
        self.buses = [ModbusBus(bus) for bus in config.buses]
        spool_dir = spool_dir or get_settings().data_dir / "spool"
        self.publisher = TelemetryPublisher(
            mqtt_url,
            mqtt_protocol,
            config.park,
            config.gateway,
            spool_dir / f"{config.gateway}.sqlite3",
            spool_max_messages=config.spool_max_messages,
        )
        # Sequence numbers start from the clock so a restarted gateway never reuses one.
        self._seq = itertools.count(int(time.time() * 1000))

    def start(self, connect_timeout: float = 0.0) -> None:
        """Start the publisher; polling may begin at once (batches wait in the spool)."""
        self.publisher.start(connect_timeout)

    async def close(self, flush_timeout: float = 5.0) -> None:
        """Stop polling; give the spool a moment to drain (what remains is sent next start)."""
        for bus in self.buses:
            await bus.close()
        await asyncio.to_thread(self.publisher.flush, flush_timeout)
        self.publisher.stop()

    def _submit(self, at: datetime, per_bus: list[dict[str, dict[str, float]]]) -> int:
        ts = at.isoformat(timespec="milliseconds")
        readings: list[dict[str, object]] = [
            {"meter": meter, "ts": ts, "quantity": quantity, "value": value}
            for results in per_bus
            for meter, values in results.items()
            for quantity, value in values.items()
        ]
        size = self.config.max_readings_per_message
        for i in range(0, len(readings), size):
            self.publisher.submit(next(self._seq), readings[i : i + size])
        return len(readings)

    async def poll_once(self, at: datetime | None = None) -> int:
        """Every bus once, stamped ``at`` (default now). Returns readings spooled for sending."""
        per_bus = await asyncio.gather(*(bus.poll() for bus in self.buses))
        return self._submit(at or datetime.now(UTC), list(per_bus))

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "gateway_polling",
            gateway=self.config.gateway,
            interval_s=self.config.poll_interval_s,
            buses=len(self.buses),
            meters=sum(len(b.devices) for b in self.config.buses),
        )
        await asyncio.gather(*(self._run_bus(bus, stop) for bus in self.buses))

    async def _run_bus(self, bus: ModbusBus, stop: asyncio.Event) -> None:
        """One bus's cycle, aligned to the wall clock (…:00, …:10, …) so readings sit on tidy
        instants; a poll that overruns its cycle skips the ticks it missed."""
        interval = self.config.poll_interval_s
        while not stop.is_set():
            delay = interval - (time.time() % interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                break
            except TimeoutError:
                pass
            tick = datetime.fromtimestamp(round(time.time() / interval) * interval, UTC)
            try:
                self._submit(tick, [await bus.poll()])
            except (RuntimeError, ValueError) as exc:
                log.error("gateway_cycle_failed", bus=bus.config.name, error=str(exc))
