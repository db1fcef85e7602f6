"""The audit trail: who created, changed, submitted or replayed what, and when. Written in
the same transaction as the change it records, so one never exists without the other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access.policy import Principal
from services.core.models import AuditEntry

CLI_ACTOR = "cli"


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    target: str,
    park_id: int | None = None,
    **detail: Any,
) -> None:
    """``principal`` None is the command line (whoever runs it holds the database)."""
    session.add(
        AuditEntry(
            park_id=park_id if park_id is not None else (principal.park_id if principal else None),
            actor=principal.actor if principal else CLI_ACTOR,
            role=principal.role.value if principal else "cli",
            action=action,
            target=target[:200],
            detail={k: v if isinstance(v, int | float | bool | None) else str(v) for k, v in detail.items()},
        )
    )
    session.flush()


def entries(
    session: Session,
    park_id: int | None,
    start: datetime,
    end: datetime,
    action: str | None,
    limit: int,
    offset: int,
) -> Sequence[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.at >= start, AuditEntry.at < end)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if park_id is not None:
        query = query.where(AuditEntry.park_id == park_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return session.scalars(query).all()
