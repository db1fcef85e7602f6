"""Fault injection on loopback: a TCP proxy that can cut a link, and helpers to route a
database URL through it. Tests bound every fault in time; nothing here targets other hosts."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from services.core.embedded import free_port


def database_address(url: str) -> tuple[int, str | tuple[str, int]]:
    """Socket family and address of the server behind a SQLAlchemy URL (TCP or Unix socket)."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    port = parsed.port or 5432
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        return socket.AF_UNIX, str(Path(socket_dir) / f".s.PGSQL.{port}")
    return socket.AF_INET, (parsed.host or "127.0.0.1", port)


def via_proxy(url: str, proxy_port: int) -> str:
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "host"}
    return parsed.set(host="127.0.0.1", port=proxy_port, query=query).render_as_string(hide_password=False)


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut()`` drops every connection and refuses
    new ones until ``restore()``."""

    def __init__(self, family: int, target: str | tuple[str, int]) -> None:
        self.family, self.target = family, target
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._up = threading.Event()
        self._up.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def cut(self) -> None:
        self._up.clear()
        self._close_all()

    def restore(self) -> None:
        self._up.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            if not self._up.is_set():
                client.close()  # the link is down: the peer sees a reset
                continue
            try:
                upstream = socket.socket(self.family, socket.SOCK_STREAM)
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while self._up.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
