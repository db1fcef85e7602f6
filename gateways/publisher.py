"""MQTT side of a gateway: spooled telemetry at QoS 1 and a retained status with a last will.

Batches go to the on-disk spool first (gateways/spool.py); a forwarder thread sends the
oldest ones, at most ``window`` unacknowledged at a time, and deletes them from the spool once
the broker's PUBACKs are in. paho keeps unacknowledged QoS 1 messages across a reconnect and
resends them first, in order (MQTT 5 §4.4), so the stream reaches the broker in spool order.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.reasoncodes import ReasonCode

from gateways.spool import Spool
from services.core import mqtt as mqtt_factory
from services.core.contract import TELEMETRY_QOS, status_topic, telemetry_topic

log = structlog.get_logger(__name__)

ONLINE = b'{"state":"online"}'
OFFLINE = b'{"state":"offline"}'


class TelemetryPublisher:
    def __init__(
        self,
        mqtt_url: str,
        protocol: str,
        park: str,
        gateway: str,
        spool_path: Path,
        *,
        spool_max_messages: int = 100_000,
        window: int = 50,
    ) -> None:
        self.url, self.protocol = mqtt_url, protocol
        self.topic = telemetry_topic(park, gateway)
        self.status = status_topic(park, gateway)
        self.gateway = gateway
        self.window = window
        self.spool = Spool(spool_path, spool_max_messages)
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._acks = threading.Condition()
        self._acked: set[int] = set()
        self._forwarder = threading.Thread(target=self._forward, name=f"spool-{gateway}", daemon=True)
        self.client = mqtt_factory.make_client(mqtt_url, f"gateway-{gateway}", protocol)
        self.client.max_inflight_messages_set(window)
        # The broker publishes this for us if we vanish without a clean disconnect.
        self.client.will_set(self.status, OFFLINE, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None
    ) -> None:
        if reason.is_failure:
            log.error("gateway_connect_refused", gateway=self.gateway, reason=str(reason))
            return
        client.publish(self.status, ONLINE, qos=1, retain=True)
        self.connected.set()
        log.info("gateway_connected", gateway=self.gateway, spooled=len(self.spool))

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None
    ) -> None:
        if self.connected.is_set():
            log.warning("gateway_disconnected", gateway=self.gateway, reason=str(reason))
        self.connected.clear()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: object = None
    ) -> None:
        if reason.is_failure:  # e.g. not authorised: resending cannot help, say so loudly
            log.error("gateway_publish_refused", gateway=self.gateway, mid=mid, reason=str(reason))
        with self._acks:
            self._acked.add(mid)
            self._acks.notify_all()

    def start(self, timeout: float = 10.0) -> None:
        """Connect in the background (the broker may be down) and start forwarding."""
        mqtt_factory.connect(self.client, self.url, self.protocol, wait=False)
        self.client.loop_start()
        self._forwarder.start()
        if timeout and not self.connected.wait(timeout):
            log.warning("gateway_broker_not_yet_connected", gateway=self.gateway, spooling=True)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._forwarder.is_alive():
            self._forwarder.join(timeout=10)
        if self.connected.is_set():
            self.client.publish(self.status, OFFLINE, qos=1, retain=True).wait_for_publish(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self.spool.close()

    def submit(self, seq: int, readings: list[dict[str, object]]) -> None:
        """Spool one batch; it is sent when the broker is reachable."""
        payload = orjson.dumps({"gateway": self.gateway, "seq": seq, "readings": readings})
        self.spool.append([payload])
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait until the spool is empty (everything acknowledged). True if it is."""
        deadline = time.monotonic() + timeout
        while len(self.spool) and time.monotonic() < deadline:
            time.sleep(0.02)
        return not len(self.spool)

    def _forward(self) -> None:
        while not self._stop.is_set():
            if not len(self.spool):
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            if not self.connected.wait(0.5):
                continue
            entries = self.spool.peek(self.window)
            with self._acks:
                self._acked.clear()  # only acks of this window count (message ids wrap at 65535)
            pending = {self.client.publish(self.topic, body, qos=TELEMETRY_QOS).mid for _, body in entries}
            with self._acks:
                while pending and not self._stop.is_set():
                    done = pending & self._acked
                    pending -= done
                    self._acked -= done
                    if pending:
                        self._acks.wait(0.5)
            if not pending:
                self.spool.delete_through(entries[-1][0])
