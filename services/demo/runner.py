"""``parkcarbon demo``: the whole stack in one process on embedded defaults.

PostgreSQL (pgserver) and the MQTT broker (amqtt) unless configured; simulated meters as
Modbus TCP servers; the gateway polling them; ingest; the hourly scheduler; the API and
dashboard. Ctrl-C stops everything in reverse order and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import structlog
import uvicorn
import yaml
from sqlalchemy.orm import Session, sessionmaker

from gateways.config import BusConfig, DeviceConfig, GatewayConfig
from gateways.service import GatewayService
from gateways.simulator import SimulatedBus, SimulatedMeter
from services.api.app import create_app
from services.api.security import issue_token
from services.carbon.pipeline import recompute_hours
from services.carbon.scheduler import build_scheduler
from services.core import migrate
from services.core.db import libpq_url, make_engine, make_session_factory, unit_of_work
from services.core.embedded import EmbeddedBroker, free_port, start_embedded_postgres
from services.core.hours import floor_hour
from services.core.models import ApiPrincipal, Enterprise, Park, PrincipalRole
from services.core.settings import Settings, normalise_database_url
from services.demo.backfill import backfill_readings, backfill_start
from services.demo.park_layout import GATEWAY_CODE, PARK_CODE, DemoPark, build_demo_park
from services.ingest.service import IngestConfig, IngestService

log = structlog.get_logger(__name__)

# Well-known demo credentials, printed at start. Demo only: production tokens come from
# `parkcarbon token create` and are stored hashed.
OPERATOR_TOKEN = "demo-operator"
ENTERPRISE_TOKEN = "demo-enterprise-001"
GATEWAY_TOKEN = "demo-gateway"
DEMO_POLL_INTERVAL_S = 10.0


@dataclass
class DemoOptions:
    reset: bool = False
    port: int = 8000
    days: int = 7
    duration_s: float | None = None  # stop by itself after this long (tests, CI)


def _prepare_database(settings: Settings, data_dir: Path) -> str:
    url = settings.database_url or normalise_database_url(start_embedded_postgres(data_dir / "postgres"))
    migrate.upgrade(url)
    return url


def _ensure_park(factory: sessionmaker[Session]) -> DemoPark:
    with unit_of_work(factory) as session:
        park = session.query(Park).filter_by(code=PARK_CODE).one_or_none()
        if park is None:
            park = Park(
                code=PARK_CODE,
                name="苏南零碳示范产业园",
                grid_factor_region="east",
                grid_factor_year=2023,
                created_at=datetime.now(UTC),
            )
            session.add(park)
            session.flush()
        demo = build_demo_park(session, park)
        if not session.query(ApiPrincipal).filter_by(park_id=park.id).first():
            first = session.query(Enterprise).filter_by(park_id=park.id).order_by(Enterprise.id).first()
            issue_token(session, "园区运营值班", PrincipalRole.OPERATOR, park.id, token=OPERATOR_TOKEN)
            issue_token(
                session,
                "企业填报账号",
                PrincipalRole.ENTERPRISE,
                park.id,
                enterprise_id=first.id if first else None,
                token=ENTERPRISE_TOKEN,
            )
            issue_token(
                session,
                "采集网关",
                PrincipalRole.GATEWAY,
                park.id,
                gateway_id=demo.gateway.id,
                token=GATEWAY_TOKEN,
            )
        return demo


def _backfill(
    factory: sessionmaker[Session], url: str, demo: DemoPark, days: int, settings: Settings
) -> None:
    now = datetime.now(UTC)
    with factory() as session:
        start = backfill_start(session, demo, now, days)
    started = time.monotonic()
    with psycopg.connect(libpq_url(url)) as conn:
        rows = backfill_readings(conn, demo, start, now)
    copied = time.monotonic() - started
    with unit_of_work(factory) as session:
        summary = recompute_hours(
            session, start, floor_hour(now), timedelta(minutes=settings.interval_max_gap_minutes)
        )
    log.info(
        "demo_backfilled",
        readings=rows,
        hours=summary.factor_hours,
        copy_seconds=round(copied, 1),
        seconds=round(time.monotonic() - started, 1),
    )


def _simulators(demo: DemoPark) -> tuple[list[SimulatedBus], GatewayConfig]:
    by_server: dict[int, list[SimulatedMeter]] = {}
    devices: dict[int, list[DeviceConfig]] = {}
    for dm in demo.meters:

        def model(meter: SimulatedMeter, now: float, dm: object = dm) -> None:
            meter.values = dm.values_at(now)  # type: ignore[attr-defined]

        sim = SimulatedMeter(
            dm.meter.code,
            dm.unit,
            dm.register_profile,
            ct_ratio=dm.meter.ct_ratio,
            pt_ratio=dm.meter.pt_ratio,
            model=model,
            online=dm.online,
        )
        by_server.setdefault(dm.server, []).append(sim)
        devices.setdefault(dm.server, []).append(
            DeviceConfig(
                meter=dm.meter.code,
                unit=dm.unit,
                profile=dm.register_profile,
                ct_ratio=dm.meter.ct_ratio,
                pt_ratio=dm.meter.pt_ratio,
            )
        )
    buses, bus_configs = [], []
    for server, meters in sorted(by_server.items()):
        port = free_port()
        buses.append(SimulatedBus(meters, port, time.time))
        name = "110kV总降" if server == 0 else f"{server}号开闭所"
        bus_configs.append(BusConfig(name=name, port=port, timeout_s=1.0, retries=1, devices=devices[server]))
    config = GatewayConfig(
        gateway=GATEWAY_CODE, park=PARK_CODE, poll_interval_s=DEMO_POLL_INTERVAL_S, buses=bus_configs
    )
    return buses, config


class _ApiThread:
    """uvicorn in its own thread: no signal handlers of its own, stopped by should_exit."""

    def __init__(self, factory: sessionmaker[Session], host: str, port: int) -> None:
        config = uvicorn.Config(create_app(factory), host=host, port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    def start(self) -> None:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return
            time.sleep(0.05)
        raise RuntimeError("API did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def _run_live(
    demo: DemoPark, factory: sessionmaker[Session], url: str, settings: Settings, options: DemoOptions
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    broker = None if settings.mqtt_url else EmbeddedBroker().start()
    mqtt_url = settings.mqtt_url or (broker.url if broker else "")
    protocol = settings.mqtt_protocol if settings.mqtt_url else "3.1.1"
    simulators, gateway_config = _simulators(demo)
    (settings.data_dir / "demo-gateway.yaml").write_text(
        yaml.safe_dump(gateway_config.model_dump(), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    ingest = IngestService(
        IngestConfig(
            database_conninfo=libpq_url(url),
            mqtt_url=mqtt_url,
            mqtt_protocol=protocol,
            client_id="parkcarbon-demo-ingest",
        )
    )
    gateway = GatewayService(gateway_config, mqtt_url, protocol, settings.data_dir / "spool")
    scheduler = build_scheduler(factory, settings)
    api = _ApiThread(factory, settings.api_host, options.port)
    try:
        for bus in simulators:
            await bus.start()
        ingest.start()
        gateway.start()
        scheduler.start()
        api.start()
        poller = asyncio.create_task(gateway.run(stop))
        _print_banner(settings, options.port, len(demo.meters))
        if options.duration_s is not None:
            loop.call_later(options.duration_s, stop.set)
        await stop.wait()
        await poller
    finally:
        log.info("demo_stopping")
        api.stop()
        scheduler.shutdown(wait=True)
        await gateway.close()
        ingest.stop()
        for bus in simulators:
            await bus.stop()
        if broker is not None:
            broker.stop()


def _print_banner(settings: Settings, port: int, meters: int) -> None:
    host = settings.api_host
    print(
        "\n"
        "  parkcarbon 园区能碳管理平台 demo is running\n"
        f"  Dashboard 看板:   http://{host}:{port}/dashboard   (operator token: {OPERATOR_TOKEN})\n"
        f"  API:             http://{host}:{port}/docs\n"
        f"  Tokens:          operator {OPERATOR_TOKEN} | enterprise {ENTERPRISE_TOKEN} | "
        f"gateway {GATEWAY_TOKEN}\n"
        f"  Example:         curl -H 'Authorization: Bearer {OPERATOR_TOKEN}' "
        f"http://{host}:{port}/api/v1/park\n"
        f"  Simulated meters: {meters} over Modbus TCP, polled every {DEMO_POLL_INTERVAL_S:.0f} s\n"
        "  Ctrl-C to stop.\n",
        flush=True,
    )


def run_demo(settings: Settings, options: DemoOptions) -> None:
    data_dir = settings.data_dir
    if options.reset and not settings.database_url and (data_dir / "postgres").exists():
        shutil.rmtree(data_dir / "postgres")
    data_dir.mkdir(parents=True, exist_ok=True)
    url = _prepare_database(settings, data_dir)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    demo = _ensure_park(factory)
    _backfill(factory, url, demo, options.days, settings)
    try:
        asyncio.run(_run_live(demo, factory, url, settings, options))
    finally:
        engine.dispose()
