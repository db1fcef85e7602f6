"""The gateway process: poll every bus on a wall-clock aligned cycle, publish one batch per
chunk of readings. Buses are polled concurrently; devices on one bus in turn (one lock)."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime

import structlog

from gateways.config import GatewayConfig
from gateways.modbus_bus import ModbusBus
from gateways.publisher import TelemetryPublisher

log = structlog.get_logger(__name__)


class GatewayService:
    def __init__(self, config: GatewayConfig, mqtt_url: str, mqtt_protocol: str = "5") -> None:
        self.config = config
        self.buses = [ModbusBus(bus) for bus in config.buses]
        self.publisher = TelemetryPublisher(mqtt_url, mqtt_protocol, config.park, config.gateway)
        # Sequence numbers start from the clock so a restarted gateway never reuses one.
        self._seq = itertools.count(int(time.time() * 1000))

    def start(self) -> None:
        self.publisher.start()

    async def close(self) -> None:
        for bus in self.buses:
            await bus.close()
        self.publisher.stop()

    async def poll_once(self, at: datetime | None = None) -> int:
        """One poll cycle stamped ``at`` (default now). Returns readings published."""
        ts = (at or datetime.now(UTC)).isoformat(timespec="milliseconds")
        per_bus = await asyncio.gather(*(bus.poll() for bus in self.buses))
        readings: list[dict[str, object]] = [
            {"meter": meter, "ts": ts, "quantity": quantity, "value": value}
            for results in per_bus
            for meter, values in results.items()
            for quantity, value in values.items()
        ]
        size = self.config.max_readings_per_message
        infos = [
            self.publisher.publish_batch(next(self._seq), readings[i : i + size])
            for i in range(0, len(readings), size)
        ]
        for info in infos:
            await asyncio.to_thread(info.wait_for_publish, 10)
        return len(readings)

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.config.poll_interval_s
        log.info(
            "gateway_polling",
            gateway=self.config.gateway,
            interval_s=interval,
            meters=sum(len(b.devices) for b in self.config.buses),
        )
        while not stop.is_set():
            # Align cycles to the wall clock (…:00, …:10, …) so readings sit on tidy instants.
            delay = interval - (time.time() % interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                break
            except TimeoutError:
                pass
            tick = datetime.fromtimestamp(round(time.time() / interval) * interval, UTC)
            try:
                await self.poll_once(tick)
            except (RuntimeError, ValueError) as exc:
                log.error("gateway_cycle_failed", error=str(exc))
