"""Store-and-forward spool: a bounded FIFO of telemetry messages on disk (SQLite).

Every batch a gateway polls is appended here first and deleted only when the broker has
acknowledged it (QoS 1 PUBACK). A broker outage therefore only grows the spool, and a gateway
restart replays what was never acknowledged, oldest first. A message acknowledged by the
broker but not yet deleted when the process dies is sent again; ingest stores it once.

SQLite in WAL mode with ``synchronous=FULL`` (SQLite docs, "PRAGMA synchronous"): an append
survives a power cut once ``append`` returns. When the spool is full the *oldest* message is
dropped and counted, so that the newest data keeps flowing; size the bound for the longest
outage to ride out (``max_messages`` × poll interval ÷ messages per poll).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class Spool:
    def __init__(self, path: Path, max_messages: int = 100_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.max_messages = path, max_messages
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL)"
        )
        self._size = self._count()

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM spool").fetchone()
        return int(row[0])

    def __len__(self) -> int:
        return self._size

    def append(self, payloads: list[bytes]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO spool (payload) VALUES (?)", [(p,) for p in payloads])
            excess = self._size + len(payloads) - self.max_messages
            if excess > 0:
                self._db.execute(
                    "DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)", (excess,)
                )
                log.error("spool_full_dropped_oldest", dropped=excess, bound=self.max_messages)
            self._db.execute("COMMIT")
            self._size = min(self._size + len(payloads), self.max_messages)

    def peek(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest ``limit`` messages, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, payload FROM spool ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(int(i), bytes(p)) for i, p in rows]

    def delete_through(self, last_id: int) -> None:
        """Forget every message up to and including ``last_id`` (all acknowledged)."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM spool WHERE id <= ?", (last_id,))
            self._size = max(self._size - cursor.rowcount, 0)

    def close(self) -> None:
        with self._lock:
            self._db.close()
