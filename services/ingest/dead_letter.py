"""The last resort for a message that neither storage nor quarantine will take (the
database refuses even the quarantine row): one JSON line in a bounded file, one log line,
and the message is acknowledged, so that it cannot block the stream or be retried forever.
The file rotates once (``.1``) at its size limit: the newest messages are kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
import structlog

log = structlog.get_logger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_PAYLOAD_CHARS = 100_000


class DeadLetters:
    def __init__(self, path: Path | None, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.count = 0
        self._lock = threading.Lock()

    def keep(self, source: str, payload: bytes, reason: str) -> None:
        self.count += 1
        log.error("ingest_dead_letter", source=source[:300], reason=reason[:300], file=str(self.path))
        if self.path is None:
            return
        line = orjson.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "source": source[:300],
                "reason": reason[:1000],
                "payload": payload[:MAX_PAYLOAD_CHARS].decode("utf-8", errors="replace"),
            }
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                self.path.replace(self.path.with_name(self.path.name + ".1"))
            with self.path.open("ab") as out:
                out.write(line + b"\n")
