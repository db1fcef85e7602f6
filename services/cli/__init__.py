"""``parkcarbon``: one console script, one subcommand per service."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from services.cli.access import token_app, user_app
from services.cli.common import (
    database_url,
    fail,
    mqtt_of,
    refuse_unsafe,
    settings_and_logging,
    unit_of_work,
    wait_for_signal,
)

app = typer.Typer(
    help="parkcarbon — 园区能碳管理平台 (park energy–carbon management platform)",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
gateway_app = typer.Typer(help="Meter gateways (Modbus → MQTT).", no_args_is_help=True)
carbon_app = typer.Typer(help="Carbon engine.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Rejected telemetry: list it, replay it.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks: rates measured against this machine's own ceilings.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(gateway_app, name="gateway")
app.add_typer(carbon_app, name="carbon")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(bench_app, name="bench")
app.add_typer(quarantine_app, name="quarantine")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (TimescaleDB features are detected and used when present)."""
    from services.core import migrate

    settings = settings_and_logging()
    refuse_unsafe("db upgrade", settings, "database")
    migrate.upgrade(database_url(settings), revision)
    typer.echo(f"database at {revision}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int | None, typer.Option(help="API processes (PARKCARBON_API_WORKERS)")] = None,
) -> None:
    """Run the REST API and the dashboard."""
    import uvicorn

    from services.api.app import app_for

    settings = settings_and_logging()
    refuse_unsafe("serve", settings, "database", "sessions")
    url = database_url(settings)  # the embedded PostgreSQL starts here, in this process
    bind_host, bind_port = host or settings.api_host, port or settings.api_port
    processes = workers or settings.api_workers
    if not 1 <= processes <= 32:
        raise typer.BadParameter("between 1 and 32", param_hint="--workers")
    # uvicorn re-raises the SIGTERM it shut down on; by default that would kill the process
    # before its exit handlers run, leaving the embedded PostgreSQL it started behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if processes == 1:
        uvicorn.run(app_for(settings, url), host=bind_host, port=bind_port)
        return
    # Workers build the app themselves (services.api.app.app_from_environment) on the
    # database this process resolved; it supervises them and stops them on SIGTERM.
    os.environ["PARKCARBON_DATABASE_URL"] = url
    # The workers share one listening socket, and libuv (uvloop) accepts every pending
    # connection at once: a burst of clients opening keep-alive connections went to whichever
    # worker woke first (20 of 20 at times, on parkcarbon bench api), leaving the other idle.
    # One accept per loop iteration lets the others take their share (libuv's documented
    # UV_TCP_SINGLE_ACCEPT; 7–10 of 20 each in six bursts measured, against 0–10 without).
    os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
    uvicorn.run(
        "services.api.app:app_from_environment",
        factory=True,
        workers=processes,
        host=bind_host,
        port=bind_port,
    )


@app.command()
def ingest(
    client_id: Annotated[
        str, typer.Option(help="MQTT client id (unique per worker)")
    ] = "parkcarbon-ingest-1",
    shared_group: Annotated[str | None, typer.Option(help="MQTT 5 shared subscription group")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this port (127.0.0.1)")
    ] = None,
) -> None:
    """Consume telemetry from MQTT into the database (ack after commit)."""
    from services.core.db import libpq_url
    from services.ingest.service import IngestConfig, IngestService

    settings = settings_and_logging()
    refuse_unsafe("ingest", settings, "database", "broker")
    url, protocol = mqtt_of(settings)
    service = IngestService(
        IngestConfig(
            database_conninfo=libpq_url(database_url(settings)),
            mqtt_url=url,
            mqtt_protocol=protocol,
            client_id=client_id,
            shared_group=shared_group,
            batch_max_bytes=settings.ingest_batch_max_bytes,
            batch_max_seconds=settings.ingest_batch_max_seconds,
            receive_maximum=settings.ingest_receive_maximum,
            dead_letter_path=settings.data_dir / "ingest-dead-letter.jsonl",
        )
    )
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.metrics_host)
    service.start()
    wait_for_signal()
    service.stop()


@app.command()
def scheduler(run_now: Annotated[bool, typer.Option(help="run the hourly job once at start")] = True) -> None:
    """Run the scheduled jobs (the carbon engine hourly, retention daily) on PARKCARBON_TIMEZONE."""
    from services.carbon.jobs import hourly_carbon_job
    from services.core.db import make_engine, make_session_factory
    from services.jobs import build_scheduler

    settings = settings_and_logging()
    refuse_unsafe("scheduler", settings, "database")
    factory = make_session_factory(make_engine(database_url(settings)))
    jobs = build_scheduler(factory, settings)
    if run_now:
        hourly_carbon_job(factory, settings)
    jobs.start()
    wait_for_signal()
    jobs.shutdown()


@gateway_app.command("validate")
def gateway_validate(file: Path) -> None:
    """Check a gateway configuration file and list every mistake."""
    from gateways.config import config_errors

    errors = config_errors(file)
    for error in errors:
        typer.echo(f"{file}: {error}", err=True)
    if errors:
        raise typer.Exit(1)
    typer.echo(f"{file}: ok")


@gateway_app.command("run")
def gateway_run(file: Path) -> None:
    """Poll the configured Modbus devices and publish telemetry over MQTT."""
    from gateways.config import load_gateway_config
    from gateways.service import GatewayService

    settings = settings_and_logging()
    refuse_unsafe("gateway run", settings, "broker")
    url, protocol = mqtt_of(settings)
    service = GatewayService(load_gateway_config(file), url, protocol)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        service.start()
        try:
            await service.run(stop)
        finally:
            await service.close()

    asyncio.run(main())


@carbon_app.command("cef")
def carbon_cef(network_file: Path) -> None:
    """Nodal carbon intensity by carbon emission flow for a JSON network (prints JSON).

    Input: {"branches": [{"from", "to", "p_mw"}], "injections": [{"bus", "p_mw",
    "intensity_kg_per_kwh"}], "loads": [{"bus", "p_mw"}]}; see docs/carbon-method.md.
    """
    import orjson
    from pydantic import ValidationError

    from services.carbon.cef import Network, solve

    try:
        network = Network.model_validate(orjson.loads(network_file.read_bytes()))
    except (OSError, orjson.JSONDecodeError) as exc:
        typer.echo(f"{network_file}: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ValidationError as exc:
        for err in exc.errors():
            typer.echo(f"{network_file}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(orjson.dumps(solve(network).as_json(), option=orjson.OPT_INDENT_2).decode())


@carbon_app.command("restate")
def carbon_restate(
    park: Annotated[str | None, typer.Option(help="only this park (its code)")] = None,
    start: Annotated[datetime | None, typer.Option("--from", help="first hour (ISO 8601)")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="end hour, exclusive (ISO 8601)")] = None,
    dry_run: Annotated[bool, typer.Option(help="list the hours a restatement would change")] = False,
    reason: Annotated[str, typer.Option(help="why (kept with the version)")] = "factor files changed",
) -> None:
    """Recompute the hours whose grid factor changed (a new or revised MEE/NBS year, an
    hourly feed), keep the previous results as a version and print the difference per
    enterprise and month (docs/carbon-method.md §10)."""
    from services.carbon.restate import restate
    from services.core.db import make_engine, make_session_factory

    settings = settings_and_logging()
    refuse_unsafe("carbon restate", settings, "database")
    factory = make_session_factory(make_engine(database_url(settings)))
    tz = ZoneInfo(settings.timezone)
    start, end = (d if d is None or d.tzinfo else d.replace(tzinfo=tz) for d in (start, end))
    gap = timedelta(minutes=settings.interval_max_gap_minutes)
    with typer.progressbar(length=0, label="restating hours") as bar:
        done = restate(factory, gap, reason, park, start, end, dry_run, progress=bar.update)
    if not done:
        typer.echo("nothing to restate: every stored hour uses the current factors")
        return
    for r in done:
        typer.echo(
            f"park {r.park}: {r.hours} hours in {len(r.ranges)} ranges" + (" (dry run)" if dry_run else "")
        )
        for lo, hi in r.ranges[:20]:
            typer.echo(f"  {lo.isoformat()} – {hi.isoformat()}")
        if r.report:
            typer.echo(
                f"  {'month':8} {'enterprise':24} {'scope 2 before':>16} {'after':>16} {'change':>14}  kgCO2"
            )
            for line in r.report:
                before, after = float(str(line["scope2_before_kg"])), float(str(line["scope2_after_kg"]))
                who = str(line["enterprise"] or "园区 park")[:24]
                typer.echo(
                    f"  {line['month']!s:8} {who:24} {before:16.3f} {after:16.3f} {after - before:+14.3f}"
                )


@carbon_app.command("import-feed")
def carbon_import_feed(
    path: Annotated[
        Path, typer.Argument(help="CSV: region,hour_start,value_kg_per_kwh[,source]", exists=True)
    ],
    source: Annotated[str, typer.Option(help="source of rows that name none")] = "hourly feed",
) -> None:
    """Import an upstream hourly grid factor feed (e.g. State Grid Jiangsu's); the hours it
    covers are re-opened and recomputed by the next hourly run."""
    from services.carbon.feed import FeedRow, import_feed

    settings = settings_and_logging()
    refuse_unsafe("carbon import-feed", settings, "database")
    with path.open(encoding="utf-8", newline="") as handle:
        try:
            rows = [
                FeedRow.model_validate({**r, "source": r.get("source") or source})
                for r in csv.DictReader(line for line in handle if not line.startswith("#"))
            ]
        except ValueError as exc:
            fail(exc)
    with unit_of_work() as session:
        stored = import_feed(session, rows)
    typer.echo(f"imported {stored} hourly factors")


@carbon_app.command("recompute")
def carbon_recompute(
    start: Annotated[
        datetime, typer.Option("--from", help="first hour (ISO 8601; no offset: PARKCARBON_TIMEZONE)")
    ],
    end: Annotated[datetime, typer.Option("--to", help="end hour, exclusive (ISO 8601)")],
    jobs: Annotated[int, typer.Option(help="database sessions working side by side")] = 2,
) -> None:
    """Recompute interval energy, 电碳因子 (park and nodes), emissions and coverage for a
    range of hours, a day (a week for long ranges) per transaction, with a progress bar."""
    from services.carbon.pipeline import recompute_range
    from services.core.db import make_engine, make_session_factory
    from services.core.hours import HOUR, floor_hour

    settings = settings_and_logging()
    refuse_unsafe("carbon recompute", settings, "database")
    factory = make_session_factory(make_engine(database_url(settings)))
    tz = ZoneInfo(settings.timezone)  # a date without an offset is on the parks' clock
    start, end = (d if d.tzinfo else d.replace(tzinfo=tz) for d in (start, end))
    if end <= start:
        typer.echo("--to must be after --from", err=True)
        raise typer.Exit(2)
    hours = int((floor_hour(end) - floor_hour(start)) / HOUR)
    gap = timedelta(minutes=settings.interval_max_gap_minutes)
    with typer.progressbar(length=hours, label="recomputing hours") as progress:
        done = recompute_range(factory, start, end, gap, progress.update, jobs=jobs)
    typer.echo(f"recomputed {done} hours")


@app.command()
def demo(
    reset: Annotated[bool, typer.Option(help="start from an empty data directory")] = False,
    port: Annotated[
        int | None, typer.Option(help="API and dashboard port [default: PARKCARBON_API_PORT]")
    ] = None,
    days: Annotated[int, typer.Option(help="days of history to backfill")] = 7,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
) -> None:
    """Start the whole stack with a demo park on embedded defaults."""
    from services.demo.runner import DemoOptions, run_demo

    settings = settings_and_logging()
    if settings.environment != "development":
        typer.echo("parkcarbon demo: refusing to start in production: the demo is for development", err=True)
        raise typer.Exit(2)
    run_demo(settings, DemoOptions(reset=reset, port=port, days=days, duration_s=duration))


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Open quarantine entries of every park grouped by reason and meter code."""
    import psycopg

    from services.core.db import libpq_url
    from services.ingest.replay import quarantine_summary

    with psycopg.connect(libpq_url(database_url(settings_and_logging()))) as conn:
        groups = quarantine_summary(conn, None)
    if not groups:
        typer.echo("quarantine is empty")
    for reason, meter_code, entries in groups:
        typer.echo(f"{entries:>8}  {reason:<24} {meter_code or '-'}")


@quarantine_app.command("replay")
def quarantine_replay(
    meter: Annotated[str | None, typer.Option(help="only entries of this meter code")] = None,
) -> None:
    """Validate open entries again (e.g. after registering a meter); store what is valid now."""
    import psycopg

    from services.core.db import libpq_url
    from services.ingest.replay import replay_quarantine

    with psycopg.connect(libpq_url(database_url(settings_and_logging()))) as conn:
        result = replay_quarantine(conn, None, meter)
    typer.echo(
        f"examined {result.examined}, replayed {result.replayed} "
        f"({result.readings_stored} readings stored), still rejected {result.still_rejected}"
    )


@bench_app.command("ingest")
def bench_ingest(
    seconds: Annotated[float, typer.Option(help="sustained end-to-end period")] = 60.0,
    gateways: Annotated[int, typer.Option(help="gateways publishing (one message per round)")] = 40,
    meters_per_gateway: Annotated[int, typer.Option(help="meters per gateway message (×5 readings)")] = 50,
    workers: Annotated[int, typer.Option(help="ingest processes sharing the stream")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """COPY ceiling, broker delivery and MQTT → database end to end, in one run."""
    from services.bench.ingest import IngestBenchOptions, run_ingest_bench
    from services.bench.report import emit

    settings = settings_and_logging()
    options = IngestBenchOptions(
        seconds=seconds, gateways=gateways, meters_per_gateway=meters_per_gateway, workers=workers
    )
    emit("parkcarbon bench ingest", run_ingest_bench(settings, options), as_json)


@bench_app.command("carbon")
def bench_carbon(
    hourly_meters: Annotated[int, typer.Option(help="meters in the hourly-job park")] = 10_000,
    year_meters: Annotated[int, typer.Option(help="meters in the recomputed park")] = 1_000,
    year_days: Annotated[int, typer.Option(help="days recomputed")] = 365,
    reading_interval_min: Annotated[int, typer.Option(help="minutes between register readings")] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The hourly carbon job for a large park and a year's recompute, against a scan baseline."""
    from services.bench.carbon import CarbonBenchOptions, run_carbon_bench
    from services.bench.report import emit

    settings = settings_and_logging()
    options = CarbonBenchOptions(
        hourly_meters=hourly_meters,
        year_meters=year_meters,
        year_days=year_days,
        reading_interval_min=reading_interval_min,
    )
    emit("parkcarbon bench carbon", run_carbon_bench(settings, options), as_json)


@bench_app.command("api")
def bench_api(
    meters: Annotated[int, typer.Option(help="meters in the park")] = 1_000,
    days: Annotated[int, typer.Option(help="days of 15-minute data")] = 365,
    clients: Annotated[int, typer.Option(help="concurrent clients")] = 20,
    requests: Annotated[int, typer.Option(help="requests per client")] = 50,
    workers: Annotated[int, typer.Option(help="API processes (parkcarbon serve --workers)")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Dashboard and reporting queries over a year of 15-minute data under concurrent
    clients: p50/p95 against an indexed lookup measured the same way."""
    from services.bench.api import ApiBenchOptions, run_api_bench
    from services.bench.report import emit

    settings = settings_and_logging()
    options = ApiBenchOptions(meters=meters, days=days, clients=clients, requests=requests, workers=workers)
    emit("parkcarbon bench api", run_api_bench(settings, options), as_json)


@bench_app.command("alerts")
def bench_alerts(
    meters: Annotated[int, typer.Option(help="meters in the park")] = 10_000,
    rules: Annotated[int, typer.Option(help="alert rules")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """One alert evaluation cycle of RULES rules over METERS meters, against a scan of what it reads."""
    from services.bench.alerts import AlertBenchOptions, run_alert_bench
    from services.bench.report import emit

    settings = settings_and_logging()
    emit(
        "parkcarbon bench alerts",
        run_alert_bench(settings, AlertBenchOptions(meters=meters, rules=rules)),
        as_json,
    )


@bench_app.command("gateway")
def bench_gateway(
    buses: Annotated[int, typer.Option(help="simulated Modbus TCP servers")] = 20,
    meters_per_bus: Annotated[int, typer.Option(help="meters behind each server")] = 50,
    seconds: Annotated[float, typer.Option(help="gateway polling period")] = 15.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Meter polls per second from one gateway process against simulated Modbus TCP meters."""
    from services.bench.gateway import GatewayBenchOptions, run_gateway_bench
    from services.bench.report import emit

    settings_and_logging()
    options = GatewayBenchOptions(buses=buses, meters_per_bus=meters_per_bus, seconds=seconds)
    emit("parkcarbon bench gateway", run_gateway_bench(options), as_json)


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # python -m services.cli
    main()
