"""Simulated meters as real Modbus servers (pymodbus, TCP or RTU), for the demo and the tests.

Each :class:`SimulatedMeter` holds primary-side values; on every read the server encodes
them through the meter's own register map, so the gateway decodes exactly what a physical
meter with that map would show. Values can be set directly (tests) or advanced by a load
model (demo).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gateways.register_map import RegisterMap, load_profile

# A load model turns (meter, unix time) into fresh values; None keeps values as set.
LoadModel = Callable[["SimulatedMeter", float], None]


@dataclass
class SimulatedMeter:
    code: str
    unit: int
    profile: str
    ct_ratio: float = 1.0
    pt_ratio: float = 1.0
    values: dict[str, float] = field(default_factory=dict)
    model: LoadModel | None = None
    online: bool = True  # False: answers every request with an exception (device busy)
    # Seconds before it answers: beyond the gateway's timeout it is a meter that never
    # answers (a cut RS-485 pair), whose timeouts the gateway waits out every cycle.
    answer_delay_s: float = 0.0

    @property
    def register_map(self) -> RegisterMap:
        return load_profile(self.profile)


async def _serve_registers(
    meter: SimulatedMeter,
    clock: Callable[[], float],
    _function_code: int,
    start_address: int,
    _address: int,
    _count: int,
    current_registers: list[int],
    _set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    if meter.answer_delay_s:
        await asyncio.sleep(meter.answer_delay_s)
    if not meter.online:
        return ExcCodes.DEVICE_BUSY
    if meter.model is not None:
        meter.model(meter, clock())
    image = meter.register_map.encode(meter.values, meter.ct_ratio, meter.pt_ratio)
    for index in range(len(current_registers)):
        current_registers[index] = image.get(start_address + index, 0)
    return None


def _device(meter: SimulatedMeter, clock: Callable[[], float]) -> SimDevice:
    """A device answering on every block its register map reads (holding and input registers
    share one address space in pymodbus's shared mode, which is all a simulator needs)."""
    blocks = [
        SimData(start, count=count, values=0, datatype=DataType.REGISTERS)
        for start, count in meter.register_map.blocks()
    ]
    return SimDevice(
        id=meter.unit,
        simdata=blocks,
        action=partial(_serve_registers, meter, clock),
    )


class SimulatedBus:
    """One Modbus server with several meters behind it: a substation's TCP gateway, or an
    RS-485 line (RTU) when ``serial_port`` is given."""

    def __init__(
        self,
        meters: list[SimulatedMeter],
        port: int,
        clock: Callable[[], float],
        serial_port: str | None = None,
    ) -> None:
        """Serve on 127.0.0.1:``port``, or as an RTU slave on ``serial_port`` when given."""
        self.meters = {m.code: m for m in meters}
        self.port = port
        devices = [_device(m, clock) for m in meters]
        self.server: ModbusTcpServer | ModbusSerialServer = (
            ModbusTcpServer(devices, address=("127.0.0.1", port))
            if serial_port is None
            else ModbusSerialServer(devices, port=serial_port, baudrate=9600, timeout=1)
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve_forever())
        for _ in range(100):  # serve_forever binds asynchronously
            if self.server.is_active():
                return
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        await self.server.shutdown()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
