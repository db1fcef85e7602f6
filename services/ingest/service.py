"""MQTT ingest worker: at-least-once from the broker, exactly-once into the database.

Three threads, so that parsing and the database overlap on a multi-core machine:

* paho's network thread only enqueues messages;
* the *prepare* thread collects a batch (by size and time), validates it and encodes it for
  COPY;
* the *write* thread COPYs, commits, and only then acknowledges every message of the batch
  (paho manual acks). A crash at any moment leaves each uncommitted message unacknowledged,
  so the broker redelivers it to the persistent session; storage skips what is already there.

The broker bounds what is in flight towards us (MQTT 5 Receive Maximum), so memory stays
bounded when the database is slower than the stream or gone.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import structlog
from paho.mqtt.reasoncodes import ReasonCode

from services.core import mqtt as mqtt_factory
from services.core.contract import TELEMETRY_QOS, sender_of_topic, telemetry_subscription
from services.ingest import metrics
from services.ingest.dead_letter import DeadLetters
from services.ingest.parser_process import ParserProcess
from services.ingest.processor import Payload, PreparedBatch, TelemetryProcessor
from services.ingest.storage import quarantine_raw

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    database_conninfo: str  # libpq form
    mqtt_url: str
    mqtt_protocol: str = "5"
    client_id: str = "parkcarbon-ingest-1"
    park: str = "+"
    # MQTT 5 §4.8.2 shared subscription group: workers with the same group split the stream.
    shared_group: str | None = None
    batch_max_bytes: int = 4_000_000
    batch_max_seconds: float = 0.5
    # Unacknowledged messages the broker may have in flight to this worker (MQTT 5 only).
    receive_maximum: int = 2000
    # Validate in a child process (services/ingest/parser_process.py) to use a second core.
    parse_in_subprocess: bool = True
    # Where a message goes that even quarantine refuses (services/ingest/dead_letter.py);
    # None: the log line only.
    dead_letter_path: Path | None = None


def _payload(message: mqtt.MQTTMessage) -> Payload:
    park, gateway = sender_of_topic(message.topic)
    return Payload(message.topic, bytes(message.payload), park, gateway)


class IngestService:
    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.processor = TelemetryProcessor()
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._prepared: queue.Queue[tuple[list[mqtt.MQTTMessage], PreparedBatch | None]] = queue.Queue(
            maxsize=2
        )
        self._stop = threading.Event()
        self._preparing_done = threading.Event()
        self._directory_ready = threading.Event()
        self._subscribed = threading.Event()  # the broker granted the subscription
        self._preparer = threading.Thread(target=self._prepare_loop, name="ingest-prepare", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="ingest-write", daemon=True)
        self._parser = ParserProcess() if config.parse_in_subprocess else None
        self._client = mqtt_factory.make_client(
            config.mqtt_url, config.client_id, config.mqtt_protocol, persistent_session=True
        )
        self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self.messages_committed = 0
        self.dead_letters = DeadLetters(config.dead_letter_path)
        self._connected_at = float("inf")

    @property
    def subscription(self) -> str:
        topic = telemetry_subscription(self.config.park)
        if self.config.shared_group and self.config.mqtt_protocol == "5":
            return f"$share/{self.config.shared_group}/{topic}"
        return topic

    def start(self) -> IngestService:
        if self._parser is not None:
            self._parser.start()
        self._writer.start()
        self._preparer.start()
        mqtt_factory.connect(
            self._client,
            self.config.mqtt_url,
            self.config.mqtt_protocol,
            persistent_session=True,
            receive_maximum=self.config.receive_maximum,
            wait=False,  # paho keeps retrying: the service starts before its broker is up
        )
        self._client.loop_start()
        return self

    def stop(self) -> None:
        """Finish the batches already prepared, then leave; the rest stays with the broker."""
        self._stop.set()
        self._preparer.join(timeout=30)
        self._writer.join(timeout=60)
        if self._parser is not None:
            self._parser.close()
        self._client.disconnect()
        self._client.loop_stop()

    # paho callbacks: hand off only, never touch the database on paho's thread.
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _props: object = None,
    ) -> None:
        if reason.is_failure:
            log.error("ingest_connect_refused", reason=str(reason))
            return
        # Packet ids belong to one network connection (MQTT 5 §2.2.1): a message received on an
        # earlier connection must not be acknowledged on this one — the broker redelivers it
        # (already stored: skipped as a duplicate), and a PUBACK for an id it does not know
        # is a protocol error that would cost this connection too.
        self._connected_at = time.monotonic()
        client.subscribe(self.subscription, qos=TELEMETRY_QOS)  # resubscribe on every connect
        log.info("ingest_subscribed", topic=self.subscription)

    def _on_subscribe(self, *_args: object) -> None:
        metrics.BROKER_SUBSCRIBED.set(1)
        self._subscribed.set()

    def wait_subscribed(self, timeout: float = 30.0) -> None:
        """Return once the broker has granted the subscription: what a publisher sends
        before, on a topic nobody is subscribed to yet, the broker drops."""
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"ingest did not subscribe within {timeout} s")

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None
    ) -> None:
        metrics.BROKER_SUBSCRIBED.set(0)
        self._subscribed.clear()
        log.warning("ingest_broker_disconnected", reason=str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message)
        metrics.INBOX_MESSAGES.inc()

    # prepare thread
    def _collect(self) -> list[mqtt.MQTTMessage]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch, size = [first], len(first.payload)
        deadline = time.monotonic() + self.config.batch_max_seconds
        while size < self.config.batch_max_bytes:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    message = self._inbox.get(timeout=remaining)
                except queue.Empty:
                    break
            batch.append(message)
            size += len(message.payload)
        return batch

    def _prepare_loop(self) -> None:
        self._directory_ready.wait()
        try:
            while not self._stop.is_set():
                messages = self._collect()
                if not messages:
                    continue
                payloads = [_payload(m) for m in messages]
                prepared: PreparedBatch | None
                try:
                    prepared = (
                        self._parser.prepare(self.processor, payloads, "mqtt")
                        if self._parser is not None
                        else self.processor.prepare(payloads, "mqtt")
                    )
                except Exception as exc:
                    log.error("ingest_prepare_failed", messages=len(messages), error=repr(exc)[:300])
                    prepared = None  # the writer takes these messages one by one
                self._prepared.put((messages, prepared))
        finally:
            self._preparing_done.set()

    # write thread
    def _connect_db(self) -> psycopg.Connection | None:
        delay = 0.5
        while True:
            try:
                conn = psycopg.connect(self.config.database_conninfo, connect_timeout=5)
                self.processor.reload(conn)
                conn.commit()
                metrics.DATABASE_UP.set(1)
                return conn
            except psycopg.OperationalError as exc:
                metrics.DATABASE_UP.set(0)
                log.warning("ingest_database_unreachable", error=str(exc), retry_in=delay)
                if self._stop.wait(delay):
                    return None
                delay = min(delay * 2, 5.0)

    def _write_loop(self) -> None:
        conn = self._connect_db()
        self._directory_ready.set()
        while conn is not None:
            try:
                messages, prepared = self._prepared.get(timeout=0.2)
            except queue.Empty:
                if self._preparing_done.is_set():
                    break
                continue
            conn = self._commit(conn, messages, prepared)
        if conn is not None:
            conn.close()
        metrics.DATABASE_UP.set(0)

    def _commit(
        self, conn: psycopg.Connection, messages: list[mqtt.MQTTMessage], prepared: PreparedBatch | None
    ) -> psycopg.Connection | None:
        """Write until committed (reconnecting as needed), then acknowledge. Returns the
        connection to use next, or None when asked to stop before the batch was committed."""
        one_by_one = prepared is None
        while True:
            try:
                if one_by_one or prepared is None:
                    self._store_one_by_one(conn, messages)
                    break
                if (
                    prepared.rejected
                    and self.processor.reload_due()
                    and self.processor.reload_if_changed(conn)
                ):
                    # A meter or gateway registered a moment ago should not be quarantined.
                    prepared = self.processor.prepare([_payload(m) for m in messages], "mqtt")
                result = self.processor.write(conn, prepared)
                conn.commit()
                self.processor.committed(prepared, result)
                break
            except psycopg.OperationalError as exc:
                # Nothing acknowledged: keep the batch and retry once the database is back.
                log.warning("ingest_commit_failed", error=str(exc), messages=len(messages))
                conn.close()
                metrics.DATABASE_UP.set(0)
                reconnected = self._connect_db()
                if reconnected is None:
                    return None
                conn = reconnected
            except Exception as exc:
                # Not the connection: something in the batch. Store message by message, each
                # once; what still fails goes to quarantine or the dead letters, then on.
                log.error("ingest_batch_failed", messages=len(messages), error=repr(exc)[:300])
                conn.rollback()
                if one_by_one:  # the isolation itself failed: never loop on it
                    for message in messages:
                        self.dead_letters.keep(message.topic, bytes(message.payload), repr(exc))
                    break
                one_by_one = True
        for message in messages:
            if message.timestamp >= self._connected_at:  # paho stamps it with time.monotonic()
                self._client.ack(message.mid, message.qos)
        metrics.INBOX_MESSAGES.dec(len(messages))
        self.messages_committed += len(messages)
        return conn

    def _store_one_by_one(self, conn: psycopg.Connection, messages: list[mqtt.MQTTMessage]) -> None:
        """Isolate a message the database refuses so that it cannot block the others: stored,
        else quarantined whole (``storage_error``), else a dead letter. Each is tried once."""
        for message in messages:
            try:
                prepared = self.processor.prepare([_payload(message)], "mqtt")
                result = self.processor.write(conn, prepared)
                conn.commit()
                self.processor.committed(prepared, result)
                continue
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                conn.rollback()
                refused = repr(exc)[:1000]
            try:
                park_id = self.processor.directory.parks.get(sender_of_topic(message.topic)[0] or "")
                quarantine_raw(conn, park_id, message.topic, bytes(message.payload), refused)
                conn.commit()
            except psycopg.OperationalError:
                raise
            except Exception as exc:
                conn.rollback()
                self.dead_letters.keep(message.topic, bytes(message.payload), f"{refused}; then {exc!r}")
