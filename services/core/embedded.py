"""Embedded defaults for a laptop, a demo or CI: PostgreSQL from the ``pgserver`` wheel and an
in-process MQTT broker (amqtt). Production configures real servers and never comes here."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
import structlog

log = structlog.get_logger(__name__)

EMBEDDED_DB_NAME = "parkcarbon"


def start_embedded_postgres(
    data_dir: Path, database: str = EMBEDDED_DB_NAME, *, temporary: bool = False
) -> str:
    """Start (or reuse) PostgreSQL in ``data_dir`` and return a URL for ``database``.

    pgserver stops the server when the last process that asked for it exits; a ``temporary``
    server's data directory is deleted then too (pgserver's ``cleanup_mode="delete"``, its
    documented way to a throw-away server: a test run otherwise left 100 MB behind each time).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # platformdirs' XDG_RUNTIME_DIR notice, on every start
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: production never needs the wheel's binaries

        server = pgserver.get_server(data_dir.resolve(), cleanup_mode="delete" if temporary else "stop")
    admin_uri: str = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    url: str = server.get_uri(database)
    log.info("embedded_postgres_ready", data_dir=str(data_dir), database=database)
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedBroker:
    """amqtt broker (MQTT 3.1.1) on its own event loop thread, bound to loopback.

    With ``users`` ({username: password}) it admits only them, even on loopback (argon2id
    hashes in a password file, amqtt's FileAuthPlugin); without, anyone (tests)."""

    def __init__(
        self, port: int | None = None, users: dict[str, str] | None = None, work_dir: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.users = users
        self.work_dir = work_dir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mqtt-broker", daemon=True)
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        from amqtt.broker import Broker

        plugins: dict[str, dict[str, object]] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
        }
        if self.users is not None:
            plugins = {
                "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(self._password_file())}
            }
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": plugins,
        }
        self._thread.start()

        async def _start() -> Any:
            broker = Broker(config)
            await broker.start()
            return broker

        self._broker = asyncio.run_coroutine_threadsafe(_start(), self._loop).result(timeout=30)
        log.info("embedded_broker_ready", url=self.url)
        return self

    def _password_file(self) -> Path:
        from argon2 import PasswordHasher

        assert self.users is not None
        assert self.work_dir is not None, "a broker with users keeps its password file in work_dir"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / "broker-passwords"
        hasher = PasswordHasher()
        path.write_text("".join(f"{user}:{hasher.hash(password)}\n" for user, password in self.users.items()))
        path.chmod(0o600)
        return path

    def url_for(self, username: str) -> str:
        """The broker's URL with one user's credentials."""
        assert self.users is not None
        return f"mqtt://{username}:{self.users[username]}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout=30)
            self._broker = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.05)
