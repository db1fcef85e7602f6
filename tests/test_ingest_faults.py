"""At-least-once delivery, exactly-once storage, under real faults: ``kill -9`` of ingest
workers, a broker restart, the database unreachable for 30 s. Real Mosquitto, real
PostgreSQL, ``parkcarbon ingest`` in its own process; every fault on 127.0.0.1, bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateways.publisher import TelemetryPublisher
from services.core.db import libpq_url
from services.core.models import MeterRole
from services.harness.brokers import MosquittoProcess
from services.harness.ingest_process import IngestProcess
from tests.factories import make_meter, make_park
from tests.faults import TcpProxy, database_address, via_proxy

METERS = [f"F-{i:02d}" for i in range(20)]
QUANTITIES = ["energy_import_kwh", "energy_export_kwh", "power_kw"]
PER_MESSAGE = len(METERS) * len(QUANTITIES)
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _readings(k: int) -> list[dict[str, object]]:
    ts = (T0 + timedelta(seconds=k)).isoformat()
    return [{"meter": m, "ts": ts, "quantity": q, "value": k + 0.5} for m in METERS for q in QUANTITIES]


def _seed(factory: sessionmaker[Session]) -> str:
    with factory() as s:
        park = make_park(s)
        for code in METERS:
            make_meter(s, park, code, MeterRole.SUBMETER, gateway="gw-fault")
        s.commit()
        return park.code


def _stored(database_url: str) -> tuple[int, int]:
    """(rows, distinct readings) in ``reading``."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (meter_id, quantity, ts)) FROM reading"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _missing_rounds(database_url: str, messages: int) -> list[int]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        stamps = {r[0] for r in conn.execute("SELECT DISTINCT ts FROM reading").fetchall()}
    return [k for k in range(messages) if T0 + timedelta(seconds=k) not in stamps]


def _wait_stored(database_url: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    rows = 0
    while time.monotonic() < deadline:
        rows, _ = _stored(database_url)
        if rows >= expected:
            return rows
        time.sleep(0.25)
    return rows


@contextmanager
def _spooled_stream(
    broker_url: str, park: str, spool: Path, messages: int, interval: float
) -> Iterator[TelemetryPublisher]:
    """A gateway publisher (store-and-forward) submitting ``messages`` batches in a thread."""
    publisher = TelemetryPublisher(broker_url, "5", park, "gw-fault", spool)
    publisher.start()
    done = threading.Event()

    def produce() -> None:
        for k in range(messages):
            publisher.submit(k, _readings(k))
            time.sleep(interval)
        done.set()

    thread = threading.Thread(target=produce, name="fault-producer", daemon=True)
    thread.start()
    try:
        yield publisher
    finally:
        thread.join(timeout=120)
        publisher.flush(60)
        publisher.stop()


def test_kill_9_of_the_ingest_worker_five_times_stores_every_reading_once(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    park = _seed(session_factory)
    broker = MosquittoProcess(tmp_path / "mosquitto").start()
    log = tmp_path / "ingest.log"
    messages = 500
    try:
        ingest = IngestProcess(database_url, broker.url, log, client_id="ingest-kill")
        ingest.wait_subscribed()  # the persistent session exists before the stream starts
        with _spooled_stream(broker.url, park, tmp_path / "spool.sqlite3", messages, interval=0.02):
            for _ in range(5):
                before, _ = _stored(database_url)
                deadline = time.monotonic() + 30
                # Kill it while it is busy: after it has committed something new.
                while _stored(database_url)[0] <= before and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.3)
                ingest.kill()
                ingest = IngestProcess(database_url, broker.url, log, client_id="ingest-kill")
            rows = _wait_stored(database_url, messages * PER_MESSAGE, timeout=90)
            duplicates_skipped = ingest.metric("parkcarbon_ingest_readings_duplicate_total")
            ingest.stop()
    finally:
        broker.stop()
    rows, distinct = _stored(database_url)
    assert rows == distinct == messages * PER_MESSAGE, log.read_text()[-3000:]
    print(
        f"5 × kill -9: {rows} readings stored once; last worker skipped {duplicates_skipped:.0f} redelivered"
    )


def test_broker_restart_and_a_30_s_database_outage_lose_nothing(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    park = _seed(session_factory)
    broker = MosquittoProcess(tmp_path / "mosquitto").start()
    proxy = TcpProxy(*database_address(database_url)).start()
    ingest_url = via_proxy(database_url, proxy.port)
    log = tmp_path / "ingest.log"
    messages = 800  # 40 s of a gateway sending every 50 ms
    try:
        ingest = IngestProcess(ingest_url, broker.url, log, client_id="ingest-outage")
        ingest.wait_subscribed()
        with _spooled_stream(broker.url, park, tmp_path / "spool.sqlite3", messages, interval=0.05):
            time.sleep(1.5)
            broker.restart(down_seconds=1)  # mid-stream, while ingest commits and acknowledges
            time.sleep(1.5)
            proxy.cut()
            outage_started = time.monotonic()
            stored_at_cut, _ = _stored(database_url)
            time.sleep(4)
            broker.restart(down_seconds=2)  # mid-stream, with the database still gone
            time.sleep(6)
            # Whatever it received during the outage it must not have acknowledged: kill it
            # without a goodbye and let a fresh worker find those messages at the broker.
            ingest.kill()
            ingest = IngestProcess(ingest_url, broker.url, log, client_id="ingest-outage")
            assert _stored(database_url)[0] - stored_at_cut < 2 * PER_MESSAGE  # nothing got through
            time.sleep(max(0.0, 30 - (time.monotonic() - outage_started)))
            proxy.restore()  # the worker reconnects by itself
            rows = _wait_stored(database_url, messages * PER_MESSAGE, timeout=120)
            ingest.stop()
    finally:
        proxy.stop()
        broker.stop()
    rows, distinct = _stored(database_url)
    assert rows == distinct == messages * PER_MESSAGE, _missing_rounds(database_url, messages)


@pytest.mark.parametrize("workers", [2])
def test_two_workers_split_one_stream_through_a_shared_subscription(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path, workers: int
) -> None:
    park = _seed(session_factory)
    broker = MosquittoProcess(tmp_path / "mosquitto").start()
    log = tmp_path / "ingest.log"
    messages = 400
    try:
        pool = [
            IngestProcess(database_url, broker.url, log, client_id=f"ingest-{n}", shared_group="ingest")
            for n in range(workers)
        ]
        for process in pool:
            process.wait_subscribed()
        with _spooled_stream(broker.url, park, tmp_path / "spool.sqlite3", messages, interval=0.01):
            rows = _wait_stored(database_url, messages * PER_MESSAGE, timeout=90)
        shares = [int(p.metric("parkcarbon_ingest_readings_stored_total")) for p in pool]
        redelivered = sum(p.metric("parkcarbon_ingest_readings_duplicate_total") for p in pool)
        for process in pool:
            process.stop()
    finally:
        broker.stop()
    rows, distinct = _stored(database_url)
    assert rows == distinct == messages * PER_MESSAGE
    assert sum(shares) == rows  # split, not copied: each reading went to exactly one worker
    assert all(share > 0.2 * rows for share in shares), shares
    assert redelivered == 0  # no session takeovers or redeliveries: a genuine split
    print(f"shared subscription: {shares} readings per worker")
