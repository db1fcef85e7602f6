"""A gateway that loses its broker for minutes keeps polling into its on-disk spool, survives
its own restart, and afterwards delivers every batch, in order, none doubled.

Real pieces: pymodbus TCP meters, the gateway service, Mosquitto behind a loopback proxy that
is cut for the outage, the ingest service, PostgreSQL. The outage lasts
``PARKCARBON_TEST_BROKER_OUTAGE_S`` seconds (default 180: "several minutes").
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import psycopg
from sqlalchemy.orm import Session, sessionmaker

from gateways.config import BusConfig, DeviceConfig, GatewayConfig
from gateways.publisher import OFFLINE, ONLINE, TelemetryPublisher
from gateways.service import GatewayService
from gateways.simulator import SimulatedBus, SimulatedMeter
from services.core import mqtt as mqtt_factory
from services.core.contract import status_topic, telemetry_subscription
from services.core.db import libpq_url
from services.core.embedded import free_port
from services.core.models import MeterRole
from services.harness.brokers import MosquittoProcess
from tests.conftest import Broker, running_ingest
from tests.factories import make_meter, make_park
from tests.faults import TcpProxy

OUTAGE_S = float(os.environ.get("PARKCARBON_TEST_BROKER_OUTAGE_S", "180"))
POLL_S = 0.5
CODES = ["SF-1", "SF-2", "SF-3", "SF-4"]


class Observer:
    """Subscribes at the broker itself and records the order of batch sequence numbers."""

    def __init__(self, url: str, park: str) -> None:
        self.seqs: list[int] = []
        self._lock = threading.Lock()
        self.client = mqtt_factory.make_client(url, f"observer-{free_port()}", "5")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_a: c.subscribe(telemetry_subscription(park), qos=1)
        mqtt_factory.connect(self.client, url, "5")
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.seqs.append(orjson.loads(message.payload)["seq"])

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _gateway(park: str, modbus_port: int, broker_port: int, spool: Path) -> GatewayService:
    config = GatewayConfig(
        gateway="gw-sf",
        park=park,
        poll_interval_s=POLL_S,
        buses=[
            BusConfig(
                name="bus-1",
                port=modbus_port,
                devices=[
                    DeviceConfig(meter=code, unit=i + 1, profile="parkcarbon-sim-electricity")
                    for i, code in enumerate(CODES)
                ],
            )
        ],
    )
    return GatewayService(config, f"mqtt://127.0.0.1:{broker_port}", "5", spool)


async def _drive(park: str, broker_port: int, proxy: TcpProxy, spool: Path) -> tuple[int, int]:
    """Poll through: 5 s up, the outage (gateway restarted halfway), 5 s up. Returns
    (readings polled, batches spooled during the outage)."""
    start = time.time()

    def model(meter: SimulatedMeter, now: float) -> None:
        meter.values = {"energy_import_kwh": 1000 + (now - start) / 36, "power_kw": 100.0}

    meters = [
        SimulatedMeter(code, i + 1, "parkcarbon-sim-electricity", model=model) for i, code in enumerate(CODES)
    ]
    modbus_port = free_port()
    bus = SimulatedBus(meters, modbus_port, time.time)
    await bus.start()
    polled = 0
    peak_spooled = 0

    async def run_for(gateway: GatewayService, seconds: float) -> None:
        nonlocal polled, peak_spooled
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            polled += await gateway.poll_once()
            peak_spooled = max(peak_spooled, len(gateway.publisher.spool))
            await asyncio.sleep(POLL_S)

    gateway = _gateway(park, modbus_port, proxy.port, spool)
    gateway.start()
    await run_for(gateway, 5)
    proxy.cut()
    await run_for(gateway, OUTAGE_S / 2)
    await gateway.close(flush_timeout=0)  # restart the gateway in the middle of the outage
    gateway = _gateway(park, modbus_port, proxy.port, spool)
    assert len(gateway.publisher.spool) > 0  # the queue survived the restart
    gateway.start()
    await run_for(gateway, OUTAGE_S / 2)
    proxy.restore()
    await run_for(gateway, 5)
    await gateway.close(flush_timeout=120)
    await bus.stop()
    return polled, peak_spooled


def test_a_gateway_rides_out_minutes_without_its_broker(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as s:
        park = make_park(s)
        for code in CODES:
            make_meter(s, park, code, MeterRole.SUBMETER, gateway="gw-sf")
        s.commit()
        park_code = park.code
    broker = MosquittoProcess(tmp_path / "mosquitto").start()
    proxy = TcpProxy(socket.AF_INET, ("127.0.0.1", broker.port)).start()
    observer = Observer(broker.url, park_code)
    try:
        with running_ingest(database_url, Broker(broker.url, "5")):
            polled, peak = asyncio.run(_drive(park_code, broker.port, proxy, tmp_path / "spool"))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with psycopg.connect(libpq_url(database_url)) as conn:
                    row = conn.execute("SELECT count(*) FROM reading").fetchone()
                stored = int(row[0]) if row else 0
                if stored >= polled:
                    break
                time.sleep(0.5)
    finally:
        observer.close()
        proxy.stop()
        broker.stop()
    assert peak > 0.8 * OUTAGE_S / POLL_S  # nearly every outage poll waited in the spool
    assert stored == polled  # all arrived, none doubled (3 quantities per meter per poll)
    first_seen = list(dict.fromkeys(observer.seqs))
    assert first_seen == sorted(first_seen)  # in order
    print(
        f"outage {OUTAGE_S:.0f} s: {polled} readings polled, {peak} batches spooled at peak, all stored once"
    )


def test_gateway_status_is_retained_and_the_last_will_says_offline(tmp_path: Path) -> None:
    broker = MosquittoProcess(tmp_path / "mosquitto").start()
    proxy = TcpProxy(socket.AF_INET, ("127.0.0.1", broker.port)).start()
    publisher = TelemetryPublisher(f"mqtt://127.0.0.1:{proxy.port}", "5", "p1", "gw-will", tmp_path / "s.db")
    seen: list[bytes] = []

    def latest_status(expected: bytes, timeout: float = 20) -> bytes:
        """What a client subscribing now receives: the retained status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.clear()
            client = mqtt_factory.make_client(broker.url, f"status-{free_port()}", "5")
            client.on_message = lambda _c, _u, m: seen.append(bytes(m.payload))
            client.on_connect = lambda c, *_a: c.subscribe(status_topic("p1", "gw-will"), qos=1)
            mqtt_factory.connect(client, broker.url, "5")
            client.loop_start()
            time.sleep(0.5)
            client.disconnect()
            client.loop_stop()
            if seen and seen[-1] == expected:
                return seen[-1]
            time.sleep(0.5)
        return seen[-1] if seen else b""

    try:
        publisher.start(10)
        assert latest_status(ONLINE) == ONLINE
        proxy.cut()  # the gateway vanishes without a DISCONNECT: the broker sends its will
        assert latest_status(OFFLINE) == OFFLINE
        proxy.restore()
        assert latest_status(ONLINE) == ONLINE  # reconnected by itself
    finally:
        publisher.stop()
        proxy.stop()
        broker.stop()
