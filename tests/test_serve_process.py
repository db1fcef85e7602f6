"""``parkcarbon serve`` on embedded defaults, as a newcomer runs it: quiet start (no initdb or
pg_ctl chatter), and on SIGTERM it stops the embedded PostgreSQL it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from services.core.embedded import free_port


def test_serve_starts_quietly_and_stops_its_embedded_postgres(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_") and k != "DATABASE_URL"}
    env |= {"PARKCARBON_DATA_DIR": str(tmp_path / "data"), "PARKCARBON_API_PORT": str(port)}
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
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    deadline = time.monotonic() + 20
    while psutil.pid_exists(postgres) and psutil.Process(postgres).status() != "zombie":
        assert time.monotonic() < deadline, "the embedded PostgreSQL outlived serve"
        time.sleep(0.2)
    output = log_path.read_text()
    for chatter in ("initdb", "pg_ctl", "Running commandline", "RuntimeDirWarning"):
        assert chatter not in output
