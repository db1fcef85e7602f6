"""MQTT ingest worker: paho's thread only enqueues; one worker thread validates, commits, then
acknowledges (paho manual acks), so a crash before commit leaves the message with the broker.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg
import structlog
from paho.mqtt.reasoncodes import ReasonCode

from services.core import mqtt as mqtt_factory
from services.core.contract import TELEMETRY_QOS, telemetry_subscription
from services.ingest.processor import TelemetryProcessor
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
    batch_max_readings: int = 5000
    batch_max_seconds: float = 0.5


class IngestService:
    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.processor = TelemetryProcessor()
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="ingest-worker", daemon=True)
        self._client = mqtt_factory.make_client(
            config.mqtt_url, config.client_id, config.mqtt_protocol, persistent_session=True
        )
        self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self.messages_committed = 0

    @property
    def subscription(self) -> str:
        topic = telemetry_subscription(self.config.park)
        if self.config.shared_group and self.config.mqtt_protocol == "5":
            return f"$share/{self.config.shared_group}/{topic}"
        return topic

    def start(self) -> IngestService:
        self._worker.start()
        mqtt_factory.connect(
            self._client, self.config.mqtt_url, self.config.mqtt_protocol, persistent_session=True
        )
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._worker.join(timeout=30)
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
        client.subscribe(self.subscription, qos=TELEMETRY_QOS)  # resubscribe on every connect
        log.info("ingest_subscribed", topic=self.subscription)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message)

    def _collect(self) -> list[mqtt.MQTTMessage]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.batch_max_seconds
        # Readings per message vary; approximate the size bound by message count × 100.
        while len(batch) * 100 < self.config.batch_max_readings:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _connect_db(self) -> psycopg.Connection:
        delay = 0.5
        while not self._stop.is_set():
            try:
                conn = psycopg.connect(self.config.database_conninfo)
                self.processor.reload(conn)
                conn.commit()
                return conn
            except psycopg.OperationalError as exc:
                log.warning("ingest_database_unreachable", error=str(exc), retry_in=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        raise RuntimeError("ingest stopped before the database was reachable")

    def _store_one_by_one(self, conn: psycopg.Connection, messages: list[mqtt.MQTTMessage]) -> None:
        """Isolate a message the database refuses so that it cannot block the others."""
        for message in messages:
            try:
                self.processor.process(conn, [(message.topic, bytes(message.payload))], transport="mqtt")
                conn.commit()
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                conn.rollback()
                quarantine_raw(conn, message.topic, bytes(message.payload), str(exc))
                conn.commit()

    def _run(self) -> None:
        conn = self._connect_db()
        pending: list[mqtt.MQTTMessage] = []
        while not self._stop.is_set() or pending:
            if not pending:
                pending = self._collect()
                if not pending:
                    if self._stop.is_set():
                        break
                    continue
            try:
                self.processor.process(conn, [(m.topic, bytes(m.payload)) for m in pending], transport="mqtt")
                conn.commit()
            except psycopg.OperationalError as exc:
                # Nothing acknowledged: keep the batch and retry once the database is back.
                log.warning("ingest_commit_failed", error=str(exc), messages=len(pending))
                conn.close()
                if self._stop.is_set():
                    break
                conn = self._connect_db()
                continue
            except psycopg.Error:
                log.exception("ingest_batch_failed", messages=len(pending))
                conn.rollback()
                self._store_one_by_one(conn, pending)
            for message in pending:
                self._client.ack(message.mid, message.qos)
            self.messages_committed += len(pending)
            pending = []
        conn.close()
