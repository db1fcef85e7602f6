"""One Modbus bus: one pymodbus client and one lock, devices polled in turn.

A failing device is logged ERROR once, DEBUG while it keeps failing, and INFO when it
recovers (the pattern of Home Assistant's DataUpdateCoordinator) — never an ERROR per poll.
"""

from __future__ import annotations

import asyncio

import structlog
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from gateways.config import BusConfig, DeviceConfig

log = structlog.get_logger(__name__)


class ModbusBus:
    def __init__(self, config: BusConfig) -> None:
        self.config = config
        self.client = AsyncModbusTcpClient(
            config.host,
            port=config.port,
            timeout=config.timeout_s,
            retries=config.retries,
            reconnect_delay=0.5,
            reconnect_delay_max=30,
        )
        self.lock = asyncio.Lock()
        self._failing: set[str] = set()

    async def close(self) -> None:
        self.client.close()

    async def _read_device(self, device: DeviceConfig) -> dict[str, float]:
        register_map = device.register_map
        address, count = register_map.span()
        if not self.client.connected:
            await self.client.connect()
        read = (
            self.client.read_holding_registers
            if register_map.table == "holding"
            else self.client.read_input_registers
        )
        response = await read(address, count=count, device_id=device.unit)
        if response.isError():
            raise ModbusException(f"device answered with {response}")
        return register_map.decode(list(response.registers), device.multiplier)

    async def poll(self) -> dict[str, dict[str, float]]:
        """Read every device once: ``{meter code: {quantity: value}}`` for those that answered."""
        results: dict[str, dict[str, float]] = {}
        async with self.lock:
            for device in self.config.devices:
                try:
                    results[device.meter] = await self._read_device(device)
                except (ModbusException, ConnectionError, TimeoutError, OSError) as exc:
                    self._report_failure(device, exc)
                    continue
                if device.meter in self._failing:
                    self._failing.discard(device.meter)
                    log.info("meter_recovered", bus=self.config.name, meter=device.meter)
        return results

    def _report_failure(self, device: DeviceConfig, exc: BaseException) -> None:
        if device.meter in self._failing:
            log.debug("meter_poll_failed", bus=self.config.name, meter=device.meter, error=str(exc))
            return
        self._failing.add(device.meter)
        log.error(
            "meter_unreachable", bus=self.config.name, meter=device.meter, unit=device.unit, error=str(exc)
        )
