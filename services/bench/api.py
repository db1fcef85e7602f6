"""``parkcarbon bench api``: the dashboard's and the reporting queries over a year of
15-minute data, under concurrent clients, against a trivial indexed query measured the same
way in the same run.

A park of ``meters`` meters (the carbon bench's shape) gets a year of 15-minute registers,
and the engine computes it as production does (15-minute and hourly energy, daily rollups,
factors, emissions), and each finished day's readings are counted as the alert evaluator
counts them after midnight. The API runs as ``parkcarbon serve`` does, in its own process on
127.0.0.1 (in this process its server thread would share the interpreter lock with the
clients); ``clients`` threads each send ``requests`` requests, cycling through the queries
below; latencies are per request, as a client sees them. The baseline is
``GET /api/v1/register/meters/{id}`` (a primary-key lookup through the same authentication
and serialisation) under the same concurrency. Each client first sends every query once, not
measured: the server is measured warm, as it runs between deployments."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psutil
import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.tokens import create_token
from services.alerts.scan import reconcile_day
from services.bench.carbon import seed_park, write_readings
from services.bench.database import bench_database
from services.bench.report import Measure
from services.carbon.pipeline import recompute_range
from services.carbon.rollups import local_days
from services.core.db import libpq_url, make_engine, make_session_factory, unit_of_work
from services.core.hours import HOUR
from services.core.models import Enterprise, Meter, Park, Role
from services.core.settings import Settings


@dataclass(frozen=True, slots=True)
class ApiBenchOptions:
    meters: int = 1_000
    days: int = 365
    clients: int = 20
    requests: int = 50  # per client
    reading_interval_min: int = 15
    jobs: int = 2
    workers: int = 2  # API processes (parkcarbon serve --workers): one per core of this 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``parkcarbon serve`` on the bench database; returns once it answers."""
    env = dict(
        os.environ, DATABASE_URL=url, PARKCARBON_LOG_LEVEL="WARNING", PARKCARBON_API_WORKERS=str(workers)
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("parkcarbon serve did not answer within 60 s")


def _queries(end: datetime, days: int, meter: int, enterprise: int) -> list[tuple[str, dict[str, object]]]:
    day, week = end - timedelta(days=1), end - timedelta(days=7)
    year = end - timedelta(days=days)
    return [
        ("/api/v1/series/energy", {"scope": "meter", "id": meter, "resolution": "15min",
                                   "start": day, "end": end}),
        ("/api/v1/series/energy", {"scope": "enterprise", "id": enterprise, "resolution": "hour",
                                   "start": week, "end": end}),
        ("/api/v1/series/energy", {"scope": "park", "resolution": "day", "start": year, "end": end}),
        ("/api/v1/series/energy", {"scope": "park", "resolution": "month", "start": year, "end": end}),
        ("/api/v1/series/hourly", {"enterprise_id": enterprise, "start": week, "end": end}),
        ("/api/v1/carbon-factors", {"start": week, "end": end}),
        ("/api/v1/data-completeness", {"enterprise_id": enterprise, "start": day, "end": end}),
        ("/api/v1/reports", {"status": "submitted"}),
    ]  # fmt: skip


def _load(
    base: str, token: str, queries: list[tuple[str, dict[str, object]]], clients: int, requests: int
) -> dict[int, list[float]]:
    """Milliseconds of every request by query, ``clients`` threads at once; any non-200 is
    an error."""
    latencies: dict[int, list[float]] = {k: [] for k in range(len(queries))}
    failures: list[str] = []
    lock = threading.Lock()

    targets = [
        path
        + "?"
        + urlencode({key: v.isoformat() if isinstance(v, datetime) else v for key, v in params.items()})
        for path, params in queries
    ]
    headers = {"Authorization": f"Bearer {token}"}
    host, _, port = base.removeprefix("http://").partition(":")

    def client(k: int) -> None:
        # The standard library's client, one keep-alive connection each: the load generator
        # shares the server's two cores, and httpx spent 1.2-1.5 ms of CPU per request there
        # (15 % of the total), which the server's latency then paid for.
        http = HTTPConnection(host, int(port), timeout=60)
        try:
            for n in range(requests):
                which = (k + n) % len(queries)
                started = time.perf_counter()
                http.request("GET", targets[which], headers=headers)
                answer = http.getresponse()
                body = answer.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies[which].append(elapsed)
                    if answer.status != 200:
                        failures.append(f"{targets[which]} {answer.status} {body[:200]!r}")
        finally:
            http.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, first: {failures[0]}")
    return latencies


def _cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the API processes, PostgreSQL's processes on this machine and
    this process (the clients): where a request's time goes when the cores are the limit."""

    def used(processes: list[psutil.Process]) -> float:
        total = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):  # a backend that ended in between
                times = process.cpu_times()
                total += times.user + times.system
        return total

    server = psutil.Process(server_pid)
    postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    return {
        "api": used([server, *server.children(recursive=True)]),
        "postgres": used(postgres),
        "client": used([psutil.Process()]),
    }


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def run_api_bench(settings: Settings, options: ApiBenchOptions) -> list[Measure]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    end = datetime(2026, 11, 20, tzinfo=UTC)
    start = end - timedelta(days=options.days)
    with (
        tempfile.TemporaryDirectory(prefix="parkcarbon-bench-") as tmp,
        bench_database(settings, Path(tmp)) as url,
    ):
        factory = make_session_factory(make_engine(url))
        park_id = seed_park(url, "api", options.meters)
        readings = write_readings(url, park_id, start - HOUR, end + HOUR, options.reading_interval_min)
        started = time.perf_counter()
        recompute_range(
            factory, start, end, timedelta(minutes=settings.interval_max_gap_minutes), jobs=options.jobs
        )
        prepare_s = time.perf_counter() - started
        with unit_of_work(factory) as session:  # the evaluator's exact count of each finished day
            park = session.get_one(Park, park_id)
            first, last, _, _ = local_days(park.timezone, start, end)
            day = first
            while day < last:
                reconcile_day(session, park_id, park.timezone, day)
                day += timedelta(days=1)
        # What autovacuum does within minutes of a backfill, done before the load rather than
        # during it: on two cores its scans of the year just written took CPU from the queries
        # (p95 175 ms against 115-140 ms on the same data once it had finished).
        started = time.perf_counter()
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        vacuum_s = time.perf_counter() - started
        with Session(make_engine(url)) as session:
            _, token = create_token(
                session, name="bench", role=Role.OPERATOR, park_id=park_id, created_by="bench"
            )
            meter = session.scalars(
                select(Meter.id).where(Meter.park_id == park_id).order_by(Meter.id)
            ).first()
            enterprise = session.scalars(select(Enterprise.id).where(Enterprise.park_id == park_id)).first()
            session.commit()
        assert meter is not None
        assert enterprise is not None
        port = _free_port()
        server = _serve(url, port, options.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            baseline: list[tuple[str, dict[str, object]]] = [(f"/api/v1/register/meters/{meter}", {})]
            queries = _queries(end, options.days, meter, enterprise)
            # warm-up, not measured: the pools, PostgreSQL's buffers for the data the queries
            # read, each statement's first compilation (a server runs for days between starts)
            _load(base, token, baseline, options.clients, 5)
            _load(base, token, queries, options.clients, len(queries))
            base_ms = _load(base, token, baseline, options.clients, options.requests)[0]
            cpu_before, started = _cpu_seconds(server.pid), time.perf_counter()
            by_query = _load(base, token, queries, options.clients, options.requests)
            load_s, cpu_after = time.perf_counter() - started, _cpu_seconds(server.pid)
            work_ms = [ms for values in by_query.values() for ms in values]
        finally:
            server.terminate()
            server.wait(timeout=30)
    p95 = _percentile(work_ms, 0.95)
    base_p95 = _percentile(base_ms, 0.95)
    return [
        Measure("readings", readings, "rows", f"{options.meters} meters, {options.days} days of registers"),
        Measure("prepare_s", prepare_s, "s", "  engine: 15-minute, hourly, daily energy and emissions"),
        Measure("vacuum_s", vacuum_s, "s", "  VACUUM (ANALYZE) of the database before the load"),
        Measure(
            "requests",
            len(work_ms),
            "",
            f"requests, {options.clients} clients at once, {options.workers} API processes",
        ),
        Measure("requests_per_s", len(work_ms) / load_s, "/s", "  throughput"),
        *(
            Measure(
                f"cpu_ms_{who}",
                (cpu_after[who] - cpu_before[who]) / len(work_ms) * 1000,
                "ms",
                f"  CPU per request: {label}",
            )
            for who, label in (
                ("api", "the API processes"),
                ("postgres", "PostgreSQL (on this machine)"),
                ("client", "the benchmark's clients"),
            )
        ),
        Measure("p50_ms", statistics.median(work_ms), "ms", "dashboard and reporting queries, p50"),
        Measure("p95_ms", p95, "ms", "  p95"),
        Measure("max_ms", max(work_ms), "ms", "  max"),
        Measure("baseline_p50_ms", statistics.median(base_ms), "ms", "baseline: indexed lookup, p50"),
        Measure("baseline_p95_ms", base_p95, "ms", "  p95"),
        Measure("p95_ratio_to_baseline", p95 / base_p95, "×", "p95 ÷ baseline p95"),
        *(
            Measure(f"p95_ms_{k}", _percentile(by_query[k], 0.95), "ms", f"  p95 {_label(path, params)}")
            for k, (path, params) in enumerate(queries)
            if len(by_query[k]) >= 2
        ),
    ]


def _label(path: str, params: dict[str, object]) -> str:
    return " ".join([path, str(params.get("scope", "")), str(params.get("resolution", ""))]).rstrip()
