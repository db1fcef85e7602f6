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


def sender_of_topic(topic: str) -> tuple[str | None, str | None]:
    """(park code, gateway code) in ``parks/{park}/gateways/{gateway}/…``; the broker's ACL
    makes the gateway segment the authenticated client's own name (deploy/mosquitto/acl)."""
    parts = topic.split("/")
    if len(parts) >= 5 and parts[0] == "parks" and parts[2] == "gateways":
        return parts[1], parts[3]
    return None, None


def http_source(park: str, gateway: str) -> str:
    """How quarantine records telemetry received over HTTP (services/ingest/http.py)."""
    return f"http:{park}/{gateway}"


def sender_of_source(source: str) -> tuple[str | None, str | None]:
    """(park code, gateway code) of quarantined telemetry: an MQTT topic or ``http:<park>/<gw>``."""
    if source.startswith("http:"):
        park, _, gateway = source[len("http:") :].partition("/")
        return park or None, gateway or None
    return sender_of_topic(source)
