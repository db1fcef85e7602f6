"""paho-mqtt client construction shared by gateways and ingest (one place for URL, protocol,
credentials, TLS and last will)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r}: use mqtt:// or mqtts://")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


def protocol_version(protocol: str) -> mqtt.MQTTProtocolVersion:
    return mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311


def make_client(
    url: str,
    client_id: str,
    protocol: str,
    *,
    persistent_session: bool = False,
) -> mqtt.Client:
    address = BrokerAddress.parse(url)
    version = protocol_version(protocol)
    kwargs: dict[str, object] = {}
    if version != mqtt.MQTTv5:
        # MQTT 3.1.1 §3.1.2.4: clean_session=False keeps QoS 1 messages queued while away.
        kwargs["clean_session"] = not persistent_session
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version, **kwargs)  # type: ignore[arg-type]
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(persistent_session: bool, receive_maximum: int | None = None) -> Properties | None:
    """MQTT 5 CONNECT properties.

    §3.1.2.11.2 Session Expiry Interval: the broker keeps the session (subscriptions and
    unacknowledged QoS 1 messages) across reconnects. §3.1.2.11.3 Receive Maximum: at most
    this many unacknowledged QoS 1 messages in flight towards us, which bounds the memory of
    a consumer that acknowledges only after its database commit.
    """
    if not persistent_session and receive_maximum is None:
        return None
    props = Properties(PacketTypes.CONNECT)
    if persistent_session:
        props.SessionExpiryInterval = 24 * 3600
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props


def connect(
    client: mqtt.Client,
    url: str,
    protocol: str,
    persistent_session: bool = False,
    *,
    receive_maximum: int | None = None,
    wait: bool = True,
) -> None:
    """Connect now (``wait``), or let paho's loop connect and keep reconnecting in the
    background, so that a service starts while its broker is still down."""
    address = BrokerAddress.parse(url)
    do_connect = client.connect if wait else client.connect_async
    if protocol_version(protocol) == mqtt.MQTTv5:
        do_connect(
            address.host,
            address.port,
            keepalive=30,
            clean_start=not persistent_session,
            properties=connect_properties(persistent_session, receive_maximum),
        )
    else:
        do_connect(address.host, address.port, keepalive=30)
