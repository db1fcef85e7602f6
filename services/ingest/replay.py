"""Quarantine for operators: what was rejected and why, and replay once the cause is fixed.

The usual case is a meter installed and wired before anyone registered it: its readings are
kept in quarantine with reason ``unknown_meter`` (never dropped). The operator registers the
meter, then replays: each quarantined entry goes through the same validation again; what is
valid now is stored (once: replays are idempotent) and its entry marked ``replayed_at``; what
is still invalid stays in quarantine untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import psycopg

from services.core.contract import sender_of_source
from services.core.reopened_hours import mark_reopened
from services.ingest.processor import Payload, TelemetryProcessor
from services.ingest.storage import store_chunks

REPLAY_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ReplayResult:
    examined: int
    replayed: int  # entries whose readings are now stored
    still_rejected: int
    readings_stored: int


def _as_payload(entry_id: int, raw: str) -> bytes | None:
    """A quarantined reading becomes a one-reading batch; a whole message stays itself."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # malformed bytes do not become valid by waiting
    if isinstance(document, dict) and "readings" in document:
        return raw.encode()
    if isinstance(document, dict):
        return orjson.dumps({"gateway": f"replay-{entry_id}", "readings": [document]})
    return None


def replay_quarantine(
    conn: psycopg.Connection,
    park_id: int | None,
    meter_code: str | None = None,
    ids: list[int] | None = None,
    commit_each_batch: bool = True,
) -> ReplayResult:
    """Replay unreplayed entries of one park (None: every park, for the command line),
    optionally of one meter code or the given ids. Each entry is replayed as sent, to the
    park it was sent to: a replay never moves telemetry across parks. The command line
    commits per batch of entries, so a long replay makes progress and can be re-run; the API
    leaves the commit to its request."""
    processor = TelemetryProcessor()
    processor.reload(conn)
    examined = replayed = rejected = stored = 0
    last_id = 0
    while True:
        rows = conn.execute(
            "SELECT id, source, payload FROM quarantine WHERE replayed_at IS NULL AND id > %s "
            "AND (%s::int IS NULL OR park_id = %s) "
            "AND (%s::text IS NULL OR meter_code = %s) AND (%s::bigint[] IS NULL OR id = ANY(%s)) "
            "ORDER BY id LIMIT %s",
            (last_id, park_id, park_id, meter_code, meter_code, ids, ids, REPLAY_BATCH),
        ).fetchall()
        if not rows:
            break
        last_id = rows[-1][0]
        chunks: list[bytes] = []
        count = 0
        hours: set[datetime] = set()
        done: list[int] = []
        for entry_id, source, raw in rows:
            examined += 1
            body = _as_payload(entry_id, raw)
            # The original sender still counts: a gateway may only report its own meters.
            payload = Payload(source, body, *sender_of_source(source)) if body else None
            prepared = processor.prepare([payload], "replay") if payload else None
            if prepared is None or prepared.rejected or not prepared.count:
                rejected += 1
                continue
            chunks += prepared.chunks
            count += prepared.count
            hours |= prepared.hours
            done.append(entry_id)
        batch_stored = store_chunks(conn, chunks, count)
        if batch_stored:  # replayed readings are late by nature: their hours re-open
            mark_reopened(conn, hours, datetime.now(UTC))
        stored += batch_stored
        if done:
            conn.execute(
                "UPDATE quarantine SET replayed_at = %s WHERE id = ANY(%s)", (datetime.now(UTC), done)
            )
        replayed += len(done)
        if commit_each_batch:
            conn.commit()
    return ReplayResult(examined, replayed, rejected, stored)


def quarantine_summary(conn: psycopg.Connection, park_id: int | None) -> list[tuple[str, str | None, int]]:
    """Open entries of a park (None: all) by (reason, meter code), most frequent first."""
    rows = conn.execute(
        "SELECT reason, meter_code, count(*) FROM quarantine WHERE replayed_at IS NULL "
        "AND (%s::int IS NULL OR park_id = %s) "
        "GROUP BY reason, meter_code ORDER BY count(*) DESC, reason, meter_code LIMIT 1000",
        (park_id, park_id),
    ).fetchall()
    return [(str(r), m, int(n)) for r, m, n in rows]
