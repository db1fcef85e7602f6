"""Signed-in people. A sign-in (username + password) opens a ``UserSession``: for the
dashboard a ``browser`` session whose id travels in a cookie signed with
PARKCARBON_SESSION_SECRET (itsdangerous), for the API an OAuth2 ``access`` token (RFC 6749
§4.3, password grant) that expires after PARKCARBON_ACCESS_TOKEN_MINUTES. Both are opaque
random secrets whose SHA-256 is stored, so logout, a password change or disabling the user
ends them at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from services.access import rate_limit
from services.access.passwords import hash_password, needs_rehash, verify_password
from services.access.policy import Principal
from services.access.tokens import secret_hash
from services.core.models import User, UserSession
from services.core.settings import Settings

ACCESS_PREFIX = "pca_"
BROWSER_PREFIX = "pcs_"
COOKIE_SALT = "parkcarbon.dashboard-session"


@dataclass(frozen=True, slots=True)
class SignIn:
    user: User
    secret: str
    expires_at: datetime


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    kind: str,
    settings: Settings,
    now: datetime,
) -> SignIn | None:
    """A new session, or None for a wrong username or password (the failure is recorded in
    the caller's transaction: commit it). Raises RateLimited past the limits."""
    rate_limit.check_allowed(session, username, address, now, settings)
    user = session.scalar(select(User).where(User.username == username))
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or user.disabled:
        rate_limit.record_failure(session, username, address, now, settings)
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    lifetime = (
        timedelta(minutes=settings.access_token_minutes)
        if kind == "access"
        else timedelta(hours=settings.session_hours)
    )
    secret = (ACCESS_PREFIX if kind == "access" else BROWSER_PREFIX) + secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            kind=kind,
            secret_sha256=secret_hash(secret),
            created_at=now,
            expires_at=now + lifetime,
            address=address[:64],
        )
    )
    session.flush()
    return SignIn(user, secret, now + lifetime)


# Built once, as the token's (tokens.TOKEN_BY_PREFIX): an access token is checked on every API
# request (services/api/guards.py).
LIVE_SESSION_PERSON = (
    select(User.id, User.username, User.role, User.park_id, User.enterprise_id)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        UserSession.secret_sha256 == bindparam("digest"),
        UserSession.kind == bindparam("kind"),
        UserSession.ended_at.is_(None),
        UserSession.expires_at > bindparam("now"),
        User.disabled.is_(False),
    )
)


def session_principal(conn: Connection, secret: str, kind: str, now: datetime) -> Principal | None:
    """The person behind a live session secret, or None."""
    found = conn.execute(
        LIVE_SESSION_PERSON, {"digest": secret_hash(secret), "kind": kind, "now": now}
    ).first()
    if found is None:
        return None
    return Principal("user", found.id, found.username, found.role, found.park_id, found.enterprise_id)


def end_session(session: Session, secret: str, now: datetime) -> None:
    record = session.scalar(select(UserSession).where(UserSession.secret_sha256 == secret_hash(secret)))
    if record is not None and record.ended_at is None:
        record.ended_at = now
        session.flush()


def _signer(settings: Settings) -> TimestampSigner:
    return TimestampSigner(settings.signing_secret(), salt=COOKIE_SALT)


def cookie_value(secret: str, settings: Settings) -> str:
    return _signer(settings).sign(secret).decode()


def secret_of_cookie(value: str, settings: Settings) -> str | None:
    """The session secret in a cookie, if the signature holds and it is not too old."""
    try:
        raw = _signer(settings).unsign(value.encode(), max_age=settings.session_hours * 3600)
    except (BadSignature, UnicodeError):
        return None
    return raw.decode(errors="replace")
