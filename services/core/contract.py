"""The telemetry contract between gateways and ingest (DESIGN.md §Telemetry contract).

Topic ``parks/{park}/gateways/{gateway}/telemetry`` (QoS 1), status on ``…/status`` (retained,
also the last will). Payload: ``{"gateway", "seq", "readings": [{"meter", "ts", "quantity",
"value"}]}`` in UTF-8 JSON; ``ts`` is ISO 8601 with a UTC offset.
"""

from __future__ import annotations

TELEMETRY_QOS = 1


def telemetry_topic(park: str, gateway: str) -> str:
    return f"parks/{park}/gateways/{gateway}/telemetry"


def status_topic(park: str, gateway: str) -> str:
    return f"parks/{park}/gateways/{gateway}/status"


def telemetry_subscription(park: str = "+") -> str:
    return f"parks/{park}/gateways/+/telemetry"


def gateway_of_topic(topic: str) -> str | None:
    """The gateway code in ``parks/{park}/gateways/{gateway}/…``; the broker's ACL makes it
    the authenticated client's own name (deploy/mosquitto/acl)."""
    parts = topic.split("/")
    return parts[3] if len(parts) >= 5 and parts[0] == "parks" and parts[2] == "gateways" else None


def gateway_of_source(source: str) -> str | None:
    """The sending gateway recorded with quarantined telemetry: an MQTT topic, or ``http:<code>``
    for HTTP ingest (services/api/routers/telemetry.py)."""
    if source.startswith("http:"):
        return source[len("http:") :] or None
    return gateway_of_topic(source)
