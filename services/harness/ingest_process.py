"""``parkcarbon ingest`` as a child process, as production runs it, read through its metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.core.embedded import free_port, wait_for_port


class IngestProcess:
    """``parkcarbon ingest`` as production runs it, with its Prometheus endpoint."""

    def __init__(
        self,
        database_url: str,
        broker_url: str,
        log_path: Path,
        client_id: str = "bench-ingest",
        shared_group: str | None = None,
    ) -> None:
        self.metrics_port = free_port()
        env = dict(
            os.environ,
            PARKCARBON_DATABASE_URL=database_url,
            PARKCARBON_MQTT_URL=broker_url,
            PARKCARBON_MQTT_PROTOCOL="5",
            PARKCARBON_LOG_LEVEL="WARNING",
        )
        self._log = log_path.open("ab")
        command = [sys.executable, "-m", "services.cli", "ingest", "--client-id", client_id]
        command += ["--metrics-port", str(self.metrics_port)]
        if shared_group:
            command += ["--shared-group", shared_group]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.metrics_port, timeout=60)

    def wait_subscribed(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.metric("parkcarbon_ingest_broker_subscribed") < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("ingest did not subscribe")
            time.sleep(0.05)

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    return float(sample.value)
        return 0.0

    def stored(self) -> int:
        return int(self.metric("parkcarbon_ingest_readings_stored_total"))

    def peak_rss_mb(self) -> float:
        """Peak resident memory (VmHWM) of the worker and its parser child, summed."""
        import psutil  # pgserver's dependency; only the bench needs it

        pids = [self.process.pid] + [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        total = 0.0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        return total

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye to the broker or the database."""
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
