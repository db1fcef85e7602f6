"""``parkcarbon serve`` on embedded defaults, as a newcomer runs it: quiet start (no initdb or
pg_ctl chatter), and on SIGTERM it stops the embedded PostgreSQL it started; with several
API processes, they all answer on the one port and all stop with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services.core.embedded import free_port


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_starts_quietly_and_stops_its_embedded_postgres(tmp_path: Path, workers: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_") and k != "DATABASE_URL"}
    env |= {
        "PARKCARBON_DATA_DIR": str(tmp_path / "data"),
        "PARKCARBON_API_PORT": str(port),
        "PARKCARBON_API_WORKERS": str(workers),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            postgres = int((tmp_path / "data" / "postgres" / "postmaster.pid").read_text().split()[0])
            assert psutil.pid_exists(postgres)
            # every process answers: the API's own routes, authenticated against the database
            answers = {
                httpx.get(f"http://127.0.0.1:{port}/api/v1/register/park").status_code for _ in range(20)
            }
            assert answers == {401}
            children = [
                c for c in psutil.Process(process.pid).children(recursive=True) if "python" in c.name()
            ]
            if workers > 1:
                deadline = time.monotonic() + 30
                while len(served := _serving(children)) < workers:
                    assert time.monotonic() < deadline, f"{len(served)} of {workers} API processes serving"
                    time.sleep(0.5)
                    children = [
                        c
                        for c in psutil.Process(process.pid).children(recursive=True)
                        if "python" in c.name()
                    ]
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    deadline = time.monotonic() + 20
    for pid in [postgres, *(c.pid for c in children)]:
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie":
            assert time.monotonic() < deadline, f"process {pid} outlived serve"
            time.sleep(0.2)
    output = log_path.read_text()
    for chatter in ("initdb", "pg_ctl", "Running commandline", "RuntimeDirWarning"):
        assert chatter not in output


def _children(pid: int) -> list[psutil.Process]:
    return [c for c in psutil.Process(pid).children(recursive=True) if "python" in c.name()]


def _serving(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The API worker processes among ``processes``: the supervisor's spawned children (not
    multiprocessing's resource tracker)."""
    return [p for p in processes if p.is_running() and "spawn_main" in " ".join(p.cmdline())]
