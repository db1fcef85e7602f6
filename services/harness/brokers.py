"""A Mosquitto broker (MQTT 5) for tests and benchmarks."""

from __future__ import annotations

import getpass
import shutil
import signal
import subprocess
import time
from pathlib import Path

from services.core.embedded import free_port, wait_for_port


def mosquitto_binary() -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return binary


class MosquittoProcess:
    """A Mosquitto broker (MQTT 5) spawned on a free loopback port, for tests and benchmarks.

    Configured like deploy/mosquitto/mosquitto.conf where it matters for telemetry: enough
    in-flight and queued QoS 1 messages per session, and persistence in ``work_dir`` so that
    a restart keeps persistent sessions and their queued messages.
    """

    def __init__(self, work_dir: Path, port: int | None = None) -> None:
        self.work_dir = work_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> MosquittoProcess:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        conf = self.work_dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.work_dir}/\n"
            "max_inflight_messages 10000\n"
            "max_queued_messages 0\n"
            f"log_dest file {self.work_dir}/mosquitto.log\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            # Started as root, Mosquitto drops to user "mosquitto", which could not write the
            # persistence file into our directory: stay the user that started it.
            f"user {getpass.getuser()}\n"
        )
        self.process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """Graceful stop: Mosquitto writes its persistence file on SIGTERM."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
