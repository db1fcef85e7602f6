"""Validation in a child process, so that one ingest worker uses two cores.

paho's network thread, the COPY writer and the validator share one interpreter lock in the
ingest process; the validator (JSON parsing and per-reading checks, ~2 µs a reading) is the
heavy part. Here it runs in a spawned child that receives raw payloads and the meter
directory through a pipe and returns the batch already in binary COPY form. The parent keeps
everything that touches the broker or the database, so acknowledgement still follows commit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection

import structlog

from services.ingest.processor import Payload, PreparedBatch, TelemetryProcessor

log = structlog.get_logger(__name__)


def _parse_forever(conn: Connection) -> None:
    processor = TelemetryProcessor()
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        if request[0] == "directory":
            processor.directory = request[1]
            continue
        prepared = processor.prepare(request[1], request[2])
        prepared.chunks = [b"".join(prepared.chunks)]  # one buffer through the pipe
        conn.send(prepared)


class ParserProcess:
    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._directory_version = -1

    def start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_parse_forever, args=(child,), name="ingest-parser", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        self._directory_version = -1

    def prepare(
        self, processor: TelemetryProcessor, payloads: list[Payload], transport: str
    ) -> PreparedBatch:
        """Validate in the child; if it died, start a new one and validate here meanwhile."""
        try:
            assert self._conn is not None
            if processor.version != self._directory_version:
                self._conn.send(("directory", processor.directory))
                self._directory_version = processor.version
            self._conn.send(("prepare", payloads, transport))
            prepared: PreparedBatch = self._conn.recv()
            return prepared
        except (EOFError, OSError, AssertionError) as exc:
            log.error("ingest_parser_restarted", error=repr(exc))
            self.close()
            self.start()
            return processor.prepare(payloads, transport)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
            self._process = None
