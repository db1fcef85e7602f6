"""Access changes made by admins (API) or the command line (``principal`` None), each written
to the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.access import audit, tokens, users
from services.access.policy import Principal
from services.access.schemas import NewToken, TokenIn, TokenOut, UserChange, UserIn, UserOut
from services.core.errors import NotFound
from services.core.models import Park, Role, User


def create_user(session: Session, principal: Principal | None, body: UserIn) -> UserOut:
    park_id = None
    if body.park is not None:
        park_id = session.scalar(select(Park.id).where(Park.code == body.park))
        if park_id is None:
            raise NotFound(f"park {body.park!r} not found")
    user = users.create_user(
        session,
        username=body.username,
        password=body.password,
        role=Role(body.role),
        park_id=park_id,
        enterprise_id=body.enterprise_id,
        display_name=body.display_name,
    )
    audit.record(session, principal, "user.create", f"user:{user.username}", park_id, role=user.role.value)
    return UserOut.model_validate(user)


def change_user(session: Session, principal: Principal | None, user: User, body: UserChange) -> UserOut:
    if body.password is not None:
        users.set_password(session, user, body.password)
        audit.record(session, principal, "user.passwd", f"user:{user.username}", user.park_id)
    if body.disabled is not None:
        users.set_disabled(session, user, body.disabled)
        audit.record(
            session, principal, "user.disable", f"user:{user.username}", user.park_id, disabled=body.disabled
        )
    return UserOut.model_validate(user)


def create_token(session: Session, principal: Principal, body: TokenIn) -> NewToken:
    record, secret = tokens.create_token(
        session,
        name=body.name,
        role=Role(body.role),
        park_id=principal.park,
        created_by=principal.actor,
        enterprise_id=body.enterprise_id,
        gateway_id=body.gateway_id,
        expires_at=body.expires_at,
    )
    audit.record(session, principal, "token.create", f"token:{record.prefix}", role=record.role.value)
    return NewToken(**TokenOut.model_validate(record).model_dump(), token=secret)


def revoke_token(session: Session, principal: Principal, token_id: int) -> TokenOut:
    record = tokens.find_token(session, None, str(token_id))
    tokens.revoke_token(session, record, datetime.now(UTC))
    audit.record(session, principal, "token.revoke", f"token:{record.prefix}", record.park_id)
    return TokenOut.model_validate(record)


def user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user
