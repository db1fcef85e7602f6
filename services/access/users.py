"""People: create, change password, disable, list. Roles as in ``Role``; an operator or viewer
belongs to one park, an enterprise user to one enterprise, an admin to every park."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.access.passwords import check_strength, hash_password
from services.access.policy import enterprise_in_park
from services.core.errors import Conflict, InvalidInput, NotFound
from services.core.models import USER_ROLES, Role, User, UserSession

USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{3,64}$"


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    park_id: int | None,
    enterprise_id: int | None = None,
    display_name: str | None = None,
) -> User:
    if role not in USER_ROLES:
        raise InvalidInput(f"a person's role is one of {', '.join(r.value for r in USER_ROLES)}")
    if role is Role.ADMIN:
        park_id, enterprise_id = None, None
    elif park_id is None:
        raise InvalidInput(f"a {role.value} belongs to a park")
    if (role is Role.ENTERPRISE) != (enterprise_id is not None):
        raise InvalidInput("an enterprise user names its enterprise, and only an enterprise user does")
    if enterprise_id is not None and park_id is not None:
        enterprise_in_park(session, park_id, enterprise_id)
    check_strength(password, username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        park_id=park_id,
        enterprise_id=enterprise_id,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def set_password(session: Session, user: User, password: str) -> None:
    check_strength(password, user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    end_sessions(session, user.id)
    session.flush()


def set_disabled(session: Session, user: User, disabled: bool) -> None:
    user.disabled = disabled
    if disabled:
        end_sessions(session, user.id)
    session.flush()


def end_sessions(session: Session, user_id: int) -> None:
    """Sign a person out everywhere (password change, disabling)."""
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=datetime.now(UTC))
    )


def list_users(session: Session, park_id: int | None) -> Sequence[User]:
    query = select(User).order_by(User.username)
    if park_id is not None:
        query = query.where(User.park_id == park_id)
    return session.scalars(query).all()
