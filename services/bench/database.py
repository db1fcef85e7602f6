"""A throw-away benchmark database on the configured server (or an embedded one)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from services.core import migrate
from services.core.db import libpq_url, make_engine
from services.core.embedded import start_embedded_postgres
from services.core.models import Gateway, Meter, MeterRole, Park
from services.core.quantities import Carrier
from services.core.settings import Settings, normalise_database_url

BENCH_QUANTITIES = ["energy_import_kwh", "energy_export_kwh", "power_kw", "voltage_v", "current_a"]


@contextmanager
def bench_database(settings: Settings, work_dir: Path) -> Iterator[str]:
    """Create, migrate and finally drop ``pc_bench_<pid>``; yields its SQLAlchemy URL."""
    server = settings.database_url or normalise_database_url(
        start_embedded_postgres(work_dir / "pg", "postgres")
    )
    name = f"pc_bench_{os.getpid()}"
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(libpq_url(server), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(libpq_url(server), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_meters(url: str, gateways: int, meters_per_gateway: int) -> list[list[str]]:
    """Register ``gateways × meters_per_gateway`` electricity meters; returns codes per gateway."""
    engine = make_engine(url)
    codes: list[list[str]] = []
    with Session(engine) as session:
        park = Park(code="bench", name="基准测试园区", grid_factor_region="national", grid_factor_year=2023)
        session.add(park)
        session.flush()
        for g in range(gateways):
            gateway = Gateway(park_id=park.id, code=f"bench-gw-{g:03d}", name=f"网关 {g}")
            session.add(gateway)
            session.flush()
            group = [f"BM-{g:03d}-{j:03d}" for j in range(meters_per_gateway)]
            session.add_all(
                Meter(
                    park_id=park.id,
                    code=code,
                    name=code,
                    carrier=Carrier.ELECTRICITY,
                    role=MeterRole.SUBMETER,
                    quantities=BENCH_QUANTITIES,
                    ct_ratio=1.0,
                    pt_ratio=1.0,
                    gateway_id=gateway.id,
                    green_supply=False,
                )
                for code in group
            )
            codes.append(group)
        session.commit()
    engine.dispose()
    return codes
