"""MQTT side of a gateway: telemetry batches at QoS 1 and a retained status with a last will."""

from __future__ import annotations

import threading

import orjson
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.reasoncodes import ReasonCode

from services.core import mqtt as mqtt_factory
from services.core.contract import TELEMETRY_QOS, status_topic, telemetry_topic

log = structlog.get_logger(__name__)


class TelemetryPublisher:
    def __init__(self, mqtt_url: str, protocol: str, park: str, gateway: str) -> None:
        self.url, self.protocol = mqtt_url, protocol
        self.topic = telemetry_topic(park, gateway)
        self.status = status_topic(park, gateway)
        self.gateway = gateway
        self.connected = threading.Event()
        self.client = mqtt_factory.make_client(mqtt_url, f"gateway-{gateway}", protocol)
        # The broker publishes this for us if we vanish without a clean disconnect.
        self.client.will_set(self.status, b'{"state":"offline"}', qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None
    ) -> None:
        if reason.is_failure:
            log.error("gateway_connect_refused", gateway=self.gateway, reason=str(reason))
            return
        client.publish(self.status, b'{"state":"online"}', qos=1, retain=True)
        self.connected.set()
        log.info("gateway_connected", gateway=self.gateway)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object = None
    ) -> None:
        self.connected.clear()
        log.warning("gateway_disconnected", gateway=self.gateway, reason=str(reason))

    def start(self, timeout: float = 10.0) -> None:
        mqtt_factory.connect(self.client, self.url, self.protocol)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            log.warning("gateway_broker_not_yet_connected", gateway=self.gateway)

    def stop(self) -> None:
        info = self.client.publish(self.status, b'{"state":"offline"}', qos=1, retain=True)
        info.wait_for_publish(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    def publish_batch(self, seq: int, readings: list[dict[str, object]]) -> mqtt.MQTTMessageInfo:
        payload = orjson.dumps({"gateway": self.gateway, "seq": seq, "readings": readings})
        return self.client.publish(self.topic, payload, qos=TELEMETRY_QOS)
