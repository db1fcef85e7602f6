"""One Modbus bus: one pymodbus client and one lock, devices polled in turn.

TCP (``AsyncModbusTcpClient``) or RTU over RS-485 (``AsyncModbusSerialClient``): on a serial
line only one request may be outstanding (Modbus over Serial Line v1.02 §2.1, single master),
and a TCP gateway in front of RS-485 meters behaves the same, hence one lock per bus.
Timeouts and retries come from the bus configuration; a dead device costs one timeout per
poll and never blocks the other buses.

A failing device is logged ERROR once, DEBUG while it keeps failing, and INFO when it
recovers (the pattern of Home Assistant's DataUpdateCoordinator) — never an ERROR per poll.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from gateways.config import BusConfig, DeviceConfig

log = structlog.get_logger(__name__)


def make_client(config: BusConfig) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
    if config.transport == "rtu":
        assert config.serial_port is not None  # BusConfig checks it
        return AsyncModbusSerialClient(
            config.serial_port,
            baudrate=config.baudrate,
            parity=config.parity,
            stopbits=config.stopbits,
            bytesize=8,
            timeout=config.timeout_s,
            retries=config.retries,
            reconnect_delay=0.5,
            reconnect_delay_max=30,
        )
    return AsyncModbusTcpClient(
        config.host,
        port=config.port,
        timeout=config.timeout_s,
        retries=config.retries,
        reconnect_delay=0.5,
        reconnect_delay_max=30,
    )


class ModbusBus:
    """Built anywhere; its pymodbus client is made on the first poll, inside the event loop
    that polls (pymodbus's async clients need a running loop when they are made)."""

    def __init__(self, config: BusConfig) -> None:
        self.config = config
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._lock: asyncio.Lock | None = None
        self._failing: set[str] = set()
        self.polls = 0  # device reads that answered
        self.cycle_seconds: list[float] = []  # duration of each poll of the whole bus (recent)

    @property
    def client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is None:
            self._client = make_client(self.config)
        return self._client

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()

    async def _read_device(self, device: DeviceConfig) -> dict[str, float]:
        register_map = device.register_map
        client = self.client
        if not client.connected:
            await client.connect()
        read = (
            client.read_holding_registers if register_map.table == "holding" else client.read_input_registers
        )
        image: dict[int, int] = {}
        for address, count in register_map.blocks():
            response = await read(address, count=count, device_id=device.unit)
            if response.isError():
                raise ModbusException(f"device answered with {response}")
            image.update(zip(range(address, address + count), response.registers, strict=False))
        return register_map.decode(image, device.ct_ratio, device.pt_ratio)

    async def poll(self) -> dict[str, dict[str, float]]:
        """Read every device once: ``{meter code: {quantity: value}}`` for those that answered."""
        results: dict[str, dict[str, float]] = {}
        started = time.monotonic()
        async with self.lock:
            for device in self.config.devices:
                try:
                    results[device.meter] = await self._read_device(device)
                except (ModbusException, ConnectionError, TimeoutError, OSError, KeyError) as exc:
                    self._report_failure(device, exc)
                    continue
                self.polls += 1
                if device.meter in self._failing:
                    self._failing.discard(device.meter)
                    log.info("meter_recovered", bus=self.config.name, meter=device.meter)
        self.cycle_seconds = [*self.cycle_seconds[-99:], time.monotonic() - started]
        return results

    def _report_failure(self, device: DeviceConfig, exc: BaseException) -> None:
        if device.meter in self._failing:
            log.debug("meter_poll_failed", bus=self.config.name, meter=device.meter, error=str(exc))
            return
        self._failing.add(device.meter)
        log.error(
            "meter_unreachable", bus=self.config.name, meter=device.meter, unit=device.unit, error=str(exc)
        )
