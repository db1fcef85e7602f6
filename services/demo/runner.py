"""``parkcarbon demo``: the whole stack in one process on embedded defaults.

PostgreSQL (pgserver) and the MQTT broker (amqtt) unless configured; simulated meters as
Modbus TCP servers; the gateway polling them; ingest; the hourly scheduler; the API and
dashboard. Ctrl-C stops everything in reverse order and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import psycopg
import structlog
import uvicorn
import yaml
from sqlalchemy.orm import Session, sessionmaker

from gateways.config import BusConfig, DeviceConfig, GatewayConfig
from gateways.service import GatewayService
from gateways.simulator import SimulatedBus, SimulatedMeter
from services.access import tokens, users
from services.access.well_known import DEMO_PEOPLE
from services.alerts.scan import reconcile_day, scan_new_readings
from services.api.app import create_app
from services.carbon.pipeline import recompute_hours
from services.core import migrate
from services.core.db import libpq_url, make_engine, make_session_factory, unit_of_work
from services.core.embedded import EmbeddedBroker, free_port, start_embedded_postgres
from services.core.hours import floor_hour
from services.core.models import ApiToken, Enterprise, Park, Role, User
from services.core.settings import Settings, normalise_database_url
from services.demo import activity
from services.demo.backfill import backfill_readings, backfill_start
from services.demo.load_model import DEMO_PARK_TIMEZONE
from services.demo.park_layout import GATEWAY_CODE, PARK_CODE, DemoPark, build_demo_park
from services.ingest.service import IngestConfig, IngestService
from services.jobs import build_scheduler

log = structlog.get_logger(__name__)

# The demo's people (services/access/well_known.py), printed at start and written to
# demo.json. The demo runs only in development; production refuses to start while any of them
# can sign in. Production users come from `parkcarbon user create`.
DEMO_USERS = DEMO_PEOPLE
DEMO_TOKEN_CREATOR = "demo"
DEMO_FIXTURE = "demo.json"
INGEST_USER = "parkcarbon-ingest"
DEMO_POLL_INTERVAL_S = 10.0


@dataclass
class DemoOptions:
    reset: bool = False
    port: int | None = None  # default PARKCARBON_API_PORT
    days: int = 7
    duration_s: float | None = None  # stop by itself after this long (tests, CI)


def _prepare_database(settings: Settings, data_dir: Path) -> str:
    url = settings.database_url or normalise_database_url(start_embedded_postgres(data_dir / "postgres"))
    migrate.upgrade(url)
    return url


@dataclass(frozen=True, slots=True)
class DemoAccess:
    enterprise_id: int
    tokens: dict[str, str]  # operator, enterprise, gateway → token (new at every start)


def _ensure_park(factory: sessionmaker[Session]) -> DemoPark:
    with unit_of_work(factory) as session:
        park = session.query(Park).filter_by(code=PARK_CODE).one_or_none()
        if park is None:
            park = Park(
                code=PARK_CODE,
                name="苏南零碳示范产业园",
                grid_factor_region="east",
                grid_factor_year=2023,
                timezone=DEMO_PARK_TIMEZONE,
                created_at=datetime.now(UTC),
            )
            session.add(park)
            session.flush()
        return build_demo_park(session, park)


def _ensure_access(factory: sessionmaker[Session], demo: DemoPark) -> DemoAccess:
    """The demo's people (created once) and fresh machine tokens (the previous start's are
    revoked: their secrets are gone with that process)."""
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        park = session.query(Park).filter_by(code=PARK_CODE).one()
        first = session.query(Enterprise).filter_by(park_id=park.id).order_by(Enterprise.id).first()
        assert first is not None, "the demo park has enterprises"
        for role, username, password in DEMO_USERS.values():
            if session.query(User).filter_by(username=username).one_or_none() is None:
                users.create_user(
                    session,
                    username=username,
                    password=password,
                    role=role,
                    park_id=park.id,
                    enterprise_id=first.id if role is Role.ENTERPRISE else None,
                )
        for old in session.query(ApiToken).filter_by(park_id=park.id, created_by=DEMO_TOKEN_CREATOR):
            tokens.revoke_token(session, old, now)
        scopes = {
            "operator": ("园区运营值班", Role.OPERATOR, None, None),
            "enterprise": ("企业填报接口", Role.ENTERPRISE, first.id, None),
            "gateway": ("采集网关", Role.GATEWAY, None, demo.gateway.id),
        }
        issued = {}
        for key, (name, role, enterprise_id, gateway_id) in scopes.items():
            _, issued[key] = tokens.create_token(
                session,
                name=name,
                role=role,
                park_id=park.id,
                created_by=DEMO_TOKEN_CREATOR,
                enterprise_id=enterprise_id,
                gateway_id=gateway_id,
            )
        return DemoAccess(first.id, issued)


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
        # The backfilled days counted for the completeness rule and the data-quality page:
        # the alert scan takes the backfill as arrived (nothing else writes readings yet, so
        # no settling time), then each finished day is counted exactly.
        scan_new_readings(session, datetime.now(UTC), settle=timedelta(0))
        zone = ZoneInfo(demo.park.timezone)
        day = start.astimezone(zone).date()
        while day < now.astimezone(zone).date():
            reconcile_day(session, demo.park.id, demo.park.timezone, day)
            day += timedelta(days=1)
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
    demo: DemoPark,
    access: DemoAccess,
    factory: sessionmaker[Session],
    url: str,
    settings: Settings,
    options: DemoOptions,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The embedded broker admits the gateway (its token as password) and ingest only.
    broker = (
        None
        if settings.mqtt_url
        else EmbeddedBroker(
            users={GATEWAY_CODE: access.tokens["gateway"], INGEST_USER: secrets.token_urlsafe(24)},
            work_dir=settings.data_dir / "broker",
        ).start()
    )
    mqtt_url = settings.mqtt_url or (broker.url_for(INGEST_USER) if broker else "")
    gateway_url = broker.url_for(GATEWAY_CODE) if broker else mqtt_url
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
    gateway = GatewayService(gateway_config, gateway_url, protocol, settings.data_dir / "spool")
    scheduler = build_scheduler(factory, settings)
    port = options.port or settings.api_port
    api = _ApiThread(factory, settings.api_host, port)
    fixture = settings.data_dir / DEMO_FIXTURE
    try:
        for bus in simulators:
            await bus.start()
        ingest.start()
        gateway.start()
        scheduler.start()
        api.start()
        poller = asyncio.create_task(gateway.run(stop))
        _write_fixture(fixture, settings, port, url, gateway_url, access)
        _print_banner(settings, port, len(demo.meters), access)
        if options.duration_s is not None:
            loop.call_later(options.duration_s, stop.set)
        await stop.wait()
        await poller
    finally:
        log.info("demo_stopping")
        fixture.unlink(missing_ok=True)
        api.stop()
        scheduler.shutdown(wait=True)
        await gateway.close()
        ingest.stop()
        for bus in simulators:
            await bus.stop()
        if broker is not None:
            broker.stop()


def _write_fixture(
    path: Path, settings: Settings, port: int, database_url: str, gateway_url: str, access: DemoAccess
) -> None:
    """``demo.json``: what a script needs to drive the running demo. Written once serving,
    removed on stop; readable by its owner only (it holds credentials)."""
    document = {
        "api_url": f"http://{settings.api_host}:{port}",
        "mqtt_url": gateway_url,
        "database_url": database_url,
        "park": PARK_CODE,
        "gateway": GATEWAY_CODE,
        "users": {key: {"username": u, "password": pw} for key, (_, u, pw) in DEMO_USERS.items()},
        "tokens": access.tokens,
        "enterprise_id": access.enterprise_id,
    }
    partial = path.with_suffix(".tmp")
    partial.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    partial.chmod(0o600)
    partial.replace(path)  # atomic: a script never reads half a file


def _print_banner(settings: Settings, port: int, meters: int, access: DemoAccess) -> None:
    host = settings.api_host
    _, operator, operator_password = DEMO_USERS["operator"]
    _, enterprise, enterprise_password = DEMO_USERS["enterprise"]
    print(
        "\n"
        "  parkcarbon 园区能碳管理平台 demo is running\n"
        f"  Dashboard 看板:   http://{host}:{port}/dashboard\n"
        f"    operator 运营:  {operator} / {operator_password}\n"
        f"    enterprise 企业: {enterprise} / {enterprise_password}\n"
        f"  API:             http://{host}:{port}/docs\n"
        f"  Example:         curl -H 'Authorization: Bearer {access.tokens['operator']}' "
        f"http://{host}:{port}/api/v1/park\n"
        f"  Everything a script needs: {settings.data_dir / DEMO_FIXTURE}\n"
        f"  Simulated meters: {meters} over Modbus TCP, polled every {DEMO_POLL_INTERVAL_S:.0f} s\n"
        "  Ctrl-C to stop.\n",
        flush=True,
    )


def run_demo(settings: Settings, options: DemoOptions) -> None:
    if settings.environment != "development":
        raise SystemExit("parkcarbon demo runs only with PARKCARBON_ENVIRONMENT=development")
    data_dir = settings.data_dir
    if options.reset and not settings.database_url and (data_dir / "postgres").exists():
        shutil.rmtree(data_dir / "postgres")
    data_dir.mkdir(parents=True, exist_ok=True)
    url = _prepare_database(settings, data_dir)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    demo = _ensure_park(factory)
    access = _ensure_access(factory, demo)
    _backfill(factory, url, demo, options.days, settings)
    with unit_of_work(factory) as session:
        if activity.fill(session, settings, demo, datetime.now(UTC)):
            log.info("demo_activity", reports="every review state", alerts="every state")
    try:
        asyncio.run(_run_live(demo, access, factory, url, settings, options))
    finally:
        engine.dispose()
