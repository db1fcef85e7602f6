"""``parkcarbon bench ingest``: how fast telemetry gets from MQTT into the database.

One run measures, on the same database and broker:

(a) the raw COPY ceiling: pre-encoded binary COPY into ``reading``, nothing else;
(b) the broker's own delivery rate for the same messages: publisher → Mosquitto → a QoS 1
    subscriber in another process that only counts;
(c) end to end: messages published → readings committed by ``parkcarbon ingest`` running as
    in production (its own process, persistent MQTT 5 session, ack after commit), for a
    sustained period, then drained and counted in the database: nothing lost, nothing doubled.

The publisher keeps a bounded window of unacknowledged work ahead of the consumer, so (b) and
(c) measure the consumer at full load without an unbounded broker queue.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import psycopg

from services.bench.database import BENCH_QUANTITIES, bench_database, seed_meters
from services.bench.report import Measure
from services.core import mqtt as mqtt_factory
from services.core.contract import TELEMETRY_QOS, telemetry_subscription, telemetry_topic
from services.core.db import libpq_url
from services.core.settings import Settings
from services.harness.brokers import MosquittoProcess
from services.harness.ingest_process import IngestProcess
from services.ingest.copy_format import encode_rows
from services.ingest.storage import copy_binary

PARK = "bench"
TS_PLACEHOLDER = b"2000-01-01T00:00:00+00:00"


@dataclass(frozen=True, slots=True)
class IngestBenchOptions:
    seconds: float = 60.0
    gateways: int = 40
    meters_per_gateway: int = 50
    copy_rows: int = 3_000_000
    broker_messages: int = 20_000
    window_readings: int = 400_000
    # ingest processes in one MQTT 5 shared-subscription group (production scales out this way)
    workers: int = 1


class MessageFactory:
    """Gateway messages as the contract defines them: one per gateway per poll round, every
    reading of a round stamped with the round's second."""

    def __init__(self, codes: list[list[str]]) -> None:
        self.base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        self.templates: list[tuple[str, bytes]] = []
        for g, group in enumerate(codes):
            gateway = f"bench-gw-{g:03d}"
            readings = [
                {"meter": code, "ts": TS_PLACEHOLDER.decode(), "quantity": q, "value": 1000.0 + j + k / 10}
                for j, code in enumerate(group)
                for k, q in enumerate(BENCH_QUANTITIES)
            ]
            body = orjson.dumps({"gateway": gateway, "seq": 0, "readings": readings})
            self.templates.append((telemetry_topic(PARK, gateway), body))
        self.readings_per_message = len(codes[0]) * len(BENCH_QUANTITIES)

    def round(self, k: int) -> list[tuple[str, bytes]]:
        ts = (self.base + timedelta(seconds=k)).isoformat().encode()
        return [(topic, body.replace(TS_PLACEHOLDER, ts)) for topic, body in self.templates]

    def stream(self, first_round: int = 0) -> Iterator[tuple[str, bytes]]:
        k = first_round
        while True:
            yield from self.round(k)
            k += 1


def measure_copy_ceiling(
    url: str, factory: MessageFactory, codes: list[list[str]], rows: int, connections: int = 1
) -> float:
    """(a) Binary COPY of pre-encoded batches into ``reading`` over ``connections`` parallel
    sessions (as many as ingest workers, so that the ceiling is comparable); rows/s. Leaves
    the table empty."""
    with psycopg.connect(libpq_url(url)) as conn:
        meters = conn.execute("SELECT code, id FROM meter").fetchall()
    ids: dict[str, int] = {code: mid for code, mid in meters}
    series = [(ids[c], q) for group in codes for c in group for q in BENCH_QUANTITIES]
    batch_rounds = max(1, 25_000 // len(series))
    batches: list[bytes] = []
    k = 0
    while len(batches) * batch_rounds * len(series) < rows:
        stamps = [factory.base + timedelta(seconds=k + i) for i in range(batch_rounds)]
        batches.append(encode_rows((m, q, ts, 1.0) for ts in stamps for m, q in series))
        k += batch_rounds

    def copy_share(share: list[bytes]) -> None:
        with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
            for data in share:
                copy_binary(cur, "reading", data)
                conn.commit()

    shares = [batches[i::connections] for i in range(connections)]
    threads = [threading.Thread(target=copy_share, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("TRUNCATE reading")
    return len(batches) * batch_rounds * len(series) / elapsed


def _publisher(url: str, client_id: str) -> mqtt.Client:
    client = mqtt_factory.make_client(url, client_id, "5")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    mqtt_factory.connect(client, url, "5")
    client.loop_start()
    return client


def publish_windowed(
    client: mqtt.Client,
    messages: Iterator[tuple[str, bytes]],
    readings_per_message: int,
    consumed: Callable[[], int],
    window: int,
    until: Callable[[int], bool],
) -> int:
    """Publish while ``until(published)`` is false, keeping at most ``window`` readings
    published but not yet consumed. Returns readings published."""
    published = 0
    done = consumed()
    while not until(published):
        if published - done > window:
            time.sleep(0.005)
            done = consumed()
            continue
        topic, body = next(messages)
        client.publish(topic, body, qos=TELEMETRY_QOS)
        published += readings_per_message
    return published


def _count_deliveries(url: str, counter: Synchronized[int], ready: Synchronized[int]) -> None:
    """(b)'s consumer, in its own process: a QoS 1 subscriber that only counts messages."""

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        counter.value += 1

    def on_subscribe(*_args: object) -> None:
        ready.value = 1

    client = mqtt_factory.make_client(url, f"bench-count-{os.getpid()}", "5")
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = lambda c, *_a: c.subscribe(telemetry_subscription(PARK), qos=TELEMETRY_QOS)
    mqtt_factory.connect(client, url, "5")
    client.loop_forever()


def measure_broker(broker_url: str, factory: MessageFactory, messages: int, window: int) -> float:
    """(b) Readings/s delivered by the broker to a counting QoS 1 subscriber."""
    ctx = multiprocessing.get_context("spawn")
    counter, ready = ctx.Value("q", 0), ctx.Value("i", 0)
    process = ctx.Process(target=_count_deliveries, args=(broker_url, counter, ready), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 20
        while not ready.value and time.monotonic() < deadline:
            time.sleep(0.05)
        client = _publisher(broker_url, "bench-broker-pub")
        per = factory.readings_per_message
        total = messages * per
        started = time.perf_counter()
        publish_windowed(
            client,
            factory.stream(first_round=1_000_000),
            per,
            lambda: counter.value * per,
            window,
            lambda published: published >= total,
        )
        while counter.value * per < total and time.perf_counter() - started < 300:
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
        client.disconnect()
        client.loop_stop()
        return counter.value * per / elapsed
    finally:
        process.terminate()
        process.join(timeout=10)


class _Pool:
    """Several ingest processes read as one: summed counters, largest resident memory."""

    def __init__(self, processes: list[IngestProcess]) -> None:
        self.processes = processes
        for process in processes:
            process.wait_subscribed()

    def stored(self) -> int:
        return sum(p.stored() for p in self.processes)

    def metric(self, name: str) -> float:
        return sum(p.metric(name) for p in self.processes)

    def peak_rss_mb(self) -> float:
        return max(p.peak_rss_mb() for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


class _Throttled:
    """Poll an expensive counter at most every ``interval`` seconds."""

    def __init__(self, read: Callable[[], int], interval: float = 0.1) -> None:
        self.read, self.interval = read, interval
        self.value, self.at = read(), time.monotonic()

    def __call__(self) -> int:
        if time.monotonic() - self.at >= self.interval:
            self.value, self.at = self.read(), time.monotonic()
        return self.value


def measure_end_to_end(
    url: str, broker_url: str, factory: MessageFactory, options: IngestBenchOptions, work_dir: Path
) -> dict[str, float]:
    """(c) Sustained readings/s published → committed, then drain and count."""
    group = "bench" if options.workers > 1 else None
    pool = [
        IngestProcess(url, broker_url, work_dir / "ingest.log", f"bench-ingest-{n}", group)
        for n in range(options.workers)
    ]
    ingest = _Pool(pool)
    try:
        client = _publisher(broker_url, "bench-e2e-pub")
        per = factory.readings_per_message
        for topic, body in factory.round(-1):  # warm-up: the subscription exists once stored
            client.publish(topic, body, qos=TELEMETRY_QOS)
        warmup = per * len(factory.templates)
        deadline = time.monotonic() + 60
        while ingest.stored() < warmup:
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingest stored nothing within 60 s; see {work_dir / 'ingest.log'}")
            time.sleep(0.1)
        stored = _Throttled(lambda: ingest.stored() - warmup, interval=0.5)
        started = time.perf_counter()
        end = started + options.seconds
        published = publish_windowed(
            client,
            factory.stream(),
            per,
            stored,
            options.window_readings,
            lambda _published: time.perf_counter() >= end,
        )
        sustained = ingest.stored() - warmup
        elapsed = time.perf_counter() - started
        drain_deadline = time.monotonic() + 300
        while ingest.stored() - warmup < published and time.monotonic() < drain_deadline:
            time.sleep(0.1)
        drained_at = time.perf_counter() - started
        client.disconnect()
        client.loop_stop()
        with psycopg.connect(libpq_url(url)) as conn:
            in_db = conn.execute("SELECT count(*) FROM reading").fetchone()
        rss = ingest.peak_rss_mb()
        lag_sum = ingest.metric("parkcarbon_ingest_batch_seconds_sum")
        batches = ingest.metric("parkcarbon_ingest_batch_seconds_count")
    finally:
        ingest.stop()
    return {
        "e2e_readings_per_s": sustained / elapsed,
        "e2e_published": float(published),
        "e2e_in_database": float((in_db[0] if in_db else 0) - warmup),
        "e2e_drain_s": drained_at,
        "ingest_rss_mb": rss,
        "ingest_batch_ms": 1000 * lag_sum / batches if batches else float("nan"),
    }


def run_ingest_bench(settings: Settings, options: IngestBenchOptions) -> list[Measure]:
    with tempfile.TemporaryDirectory(prefix="parkcarbon-bench-") as tmp:
        work_dir = Path(tmp)
        broker = MosquittoProcess(work_dir / "mosquitto").start()
        try:
            with bench_database(settings, work_dir) as url:
                codes = seed_meters(url, options.gateways, options.meters_per_gateway)
                factory = MessageFactory(codes)
                copy_rate = measure_copy_ceiling(url, factory, codes, options.copy_rows, options.workers)
                broker_rate = measure_broker(
                    broker.url, factory, options.broker_messages, options.window_readings
                )
                e2e = measure_end_to_end(url, broker.url, factory, options, work_dir)
        finally:
            broker.stop()
    ceiling = min(copy_rate, broker_rate)
    lost = e2e["e2e_published"] - e2e["e2e_in_database"]
    return [
        Measure(
            "copy_rows_per_s",
            copy_rate,
            "rows/s",
            f"(a) raw binary COPY into reading, {options.workers} session(s)",
        ),
        Measure("broker_readings_per_s", broker_rate, "readings/s", "(b) broker delivery, QoS 1"),
        Measure(
            "e2e_readings_per_s",
            e2e["e2e_readings_per_s"],
            "readings/s",
            f"(c) MQTT → committed, sustained {options.seconds:.0f} s",
        ),
        Measure(
            "e2e_ratio_to_ceiling",
            e2e["e2e_readings_per_s"] / ceiling,
            "× min(a,b)",
            "(c) ÷ min(a, b)  [target ≥ 0.6]",
        ),
        Measure("e2e_published", e2e["e2e_published"], "readings", "published in (c)"),
        Measure("e2e_missing_or_extra", lost, "readings", "published − stored (must be 0)"),
        Measure("e2e_drain_s", e2e["e2e_drain_s"], "s", "until the last reading was committed"),
        Measure("ingest_batch_ms", e2e["ingest_batch_ms"], "ms", "mean batch validate+write time"),
        Measure("ingest_workers", options.workers, "processes", "ingest workers (shared subscription)"),
        Measure(
            "ingest_rss_mb",
            e2e["ingest_rss_mb"],
            "MB",
            "peak resident memory per worker, parser child included",
        ),
    ]
