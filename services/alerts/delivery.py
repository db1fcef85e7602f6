"""Sending the outbox: every due delivery is claimed (``FOR UPDATE SKIP LOCKED``, so two
dispatchers never send one twice), sent, and marked sent; a failure is retried with
exponential back-off (10 s, 20 s, 40 s … at most 15 min apart) until
``alert_delivery_max_attempts``, then marked ``dead`` with its last error, visible in the
delivery log. A receiver that was down gets the message once it is back.

A send that succeeded but whose commit failed is sent again (at least once): receivers see
``alert.id`` and ``event`` in every message and can drop a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.alerts.channels import DeliveryError, notification, send
from services.core.db import unit_of_work
from services.core.models import Alert, AlertChannel, AlertDelivery, Park
from services.core.settings import Settings

log = structlog.get_logger(__name__)

FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=15)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


@dataclass(frozen=True, slots=True)
class DispatchSummary:
    sent: int
    failed: int
    dead: int


def attempt(session: Session, delivery: AlertDelivery, settings: Settings, now: datetime) -> bool:
    """Try one delivery now and record the outcome on it. Returns whether it went through."""
    channel = session.get(AlertChannel, delivery.channel_id)
    delivery.attempts += 1
    if channel is None or not channel.enabled or channel.retired_at is not None:
        delivery.status = "dead"
        delivery.last_error = "channel disabled or retired"
        return False
    alert = session.get(Alert, delivery.alert_id) if delivery.alert_id is not None else None
    park_code = session.scalar(select(Park.code).where(Park.id == delivery.park_id)) or ""
    note = notification(alert, delivery.event, park_code)
    ca_file = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    try:
        delivery.response_status = send(channel, note, settings.alert_delivery_timeout_s, ca_file)
    except DeliveryError as exc:
        delivery.last_error = str(exc)
        delivery.response_status = exc.status
        if delivery.attempts >= settings.alert_delivery_max_attempts:
            delivery.status = "dead"
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        log.warning(
            "alert_delivery_failed",
            delivery=delivery.id,
            channel=channel.id,
            attempts=delivery.attempts,
            error=str(exc),
        )
        return False
    delivery.status = "sent"
    delivery.sent_at = now
    delivery.last_error = None
    return True


def dispatch_due(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None, limit: int = 500
) -> DispatchSummary:
    """Send the deliveries that are due, each in its own transaction."""
    sent = failed = dead = 0
    for _ in range(limit):
        at = now or datetime.now(UTC)
        with unit_of_work(factory) as session:
            delivery = session.scalars(
                select(AlertDelivery)
                .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= at)
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if delivery is None:
                break
            if attempt(session, delivery, settings, at):
                sent += 1
            elif delivery.status == "dead":
                dead += 1
            else:
                failed += 1
    return DispatchSummary(sent, failed, dead)
