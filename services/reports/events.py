"""The review's events: stored in ``report_event`` (in the same transaction as the change,
so none is lost or announced for a change that rolled back) and passed to in-process
subscribers. Alerting reads the table to notify both sides (issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from services.access.policy import Principal
from services.core.models import EnterpriseReport, ReportEvent

Subscriber = Callable[[ReportEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Call ``subscriber`` with every event recorded from now on; returns the unsubscribe."""
    _subscribers.append(subscriber)
    return lambda: _subscribers.remove(subscriber)


def record(
    session: Session, principal: Principal, report: EnterpriseReport, kind: str, **detail: Any
) -> ReportEvent:
    event = ReportEvent(
        park_id=report.park_id,
        enterprise_id=report.enterprise_id,
        report_id=report.id,
        kind=kind,
        actor=principal.actor,
        detail={"period": report.period.isoformat(), "version": report.version, **detail},
    )
    session.add(event)
    session.flush()
    for subscriber in list(_subscribers):
        subscriber(event)
    return event
