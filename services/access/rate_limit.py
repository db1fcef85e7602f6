"""Failed sign-ins rate-limit guessing per username and per address (OWASP ASVS v4 2.2.1):
beyond the limit inside the window, sign-in is refused before the password is checked.
Kept in the database so that every API process counts the same failures."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.core.errors import RateLimited
from services.core.models import LoginFailure
from services.core.settings import Settings


def check_allowed(session: Session, username: str, address: str, now: datetime, settings: Settings) -> None:
    window = timedelta(minutes=settings.login_window_minutes)
    since = now - window
    by_user = session.scalar(
        select(func.count()).where(LoginFailure.username == username, LoginFailure.at > since)
    )
    by_address = session.scalar(
        select(func.count()).where(LoginFailure.address == address, LoginFailure.at > since)
    )
    if (by_user or 0) >= settings.login_max_failures_per_user or (
        by_address or 0
    ) >= settings.login_max_failures_per_address:
        raise RateLimited(
            f"too many failed sign-ins; try again in {settings.login_window_minutes} minutes",
            retry_after_s=int(window.total_seconds()),
        )


def record_failure(session: Session, username: str, address: str, now: datetime, settings: Settings) -> None:
    session.add(LoginFailure(username=username[:64], address=address[:64], at=now))
    # Old failures count for nothing: drop them as new ones come in.
    horizon = now - timedelta(minutes=settings.login_window_minutes) * 4
    session.execute(delete(LoginFailure).where(LoginFailure.at < horizon))
    session.flush()
