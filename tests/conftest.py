"""Real components for the tests: PostgreSQL (embedded pgserver, or DATABASE_URL), MQTT
brokers (in-process amqtt and a spawned mosquitto), pymodbus servers in the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.core import migrate
from services.core import mqtt as mqtt_factory
from services.core.db import libpq_url, make_engine, make_session_factory
from services.core.embedded import EmbeddedBroker, free_port, start_embedded_postgres
from services.core.settings import normalise_database_url
from services.harness.brokers import MosquittoProcess
from services.ingest.service import IngestConfig, IngestService

TEMPLATE_DB = f"pc_template_{os.getpid()}"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """SQLAlchemy URL of a maintenance database on the test server."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield normalise_database_url(configured)
        return
    # Not under pytest's basetemp: pytest prunes old basetemps, which would pull the data
    # directory from under a server that another, concurrent pytest run still uses. Deleted
    # with the server when this run ends.
    data_dir = Path(tempfile.mkdtemp(prefix="parkcarbon-test-pg-"))
    yield normalise_database_url(start_embedded_postgres(data_dir, "postgres", temporary=True))


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(server_url), autocommit=True)


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    url = make_url(server_url).set(database=TEMPLATE_DB).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield TEMPLATE_DB
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url: str, template_database: str) -> Iterator[str]:
    """A fresh database migrated to head, dropped after the test."""
    name = f"pc_test_{uuid.uuid4().hex[:12]}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with _admin(server_url) as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        except psycopg.errors.ObjectInUse:
            # TimescaleDB's background workers may hold the template open: migrate instead.
            conn.execute(f'CREATE DATABASE "{name}"')
            migrate.upgrade(url)
    yield url
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


class Broker:
    def __init__(self, url: str, protocol: str) -> None:
        self.url, self.protocol = url, protocol


@contextmanager
def running_ingest(database_url: str, broker: Broker) -> Iterator[IngestService]:
    """The production ingest service against the test database and broker."""
    service = IngestService(
        IngestConfig(
            database_conninfo=libpq_url(database_url),
            mqtt_url=broker.url,
            mqtt_protocol=broker.protocol,
            client_id=f"ingest-{free_port()}",
            batch_max_seconds=0.05,
        )
    ).start()
    try:
        service.wait_subscribed()
        yield service
    finally:
        service.stop()


@contextmanager
def mqtt_publisher(broker: Broker) -> Iterator[mqtt.Client]:
    client = mqtt_factory.make_client(broker.url, f"pub-{free_port()}", broker.protocol)
    mqtt_factory.connect(client, broker.url, broker.protocol)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """The embedded broker the demo uses (MQTT 3.1.1) and Mosquitto (MQTT 5) as in production."""
    if request.param == "amqtt":
        embedded = EmbeddedBroker().start()
        yield Broker(embedded.url, "3.1.1")
        embedded.stop()
        return
    try:
        process = MosquittoProcess(tmp_path / "mosquitto").start()
    except FileNotFoundError:
        pytest.fail("mosquitto is not installed: run the README's test command, which installs it")
    yield Broker(process.url, "5")
    process.stop()


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """A test must not leave non-daemon threads running (pymodbus's tests check the same)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not extra:
            return
        time.sleep(0.1)
    pytest.fail(f"threads left behind: {[t.name for t in extra]}")


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[str]:
    """``parkcarbon serve`` as its own process on the test's database; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_") and k != "DATABASE_URL"}
    env |= {
        "PARKCARBON_DATABASE_URL": database_url,
        "PARKCARBON_API_PORT": str(port),
        "PARKCARBON_DATA_DIR": str(tmp_path / "data"),
        "PARKCARBON_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            assert time.monotonic() < deadline
            time.sleep(0.3)
    yield base
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()
