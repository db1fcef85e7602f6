"""Administration (admins only): people, machine tokens and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.access import audit, service, tokens, users
from services.access.dependencies import AdminPrincipal
from services.access.schemas import AuditOut, NewToken, TokenIn, TokenOut, UserChange, UserIn, UserOut
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.core.db import SessionDep
from services.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidRange,
    NotAuthenticated,
    NotFound,
    responses,
)
from services.core.params import IdPath, TimeRangeDep

router = APIRouter(
    prefix="/api/v1/admin", tags=["admin"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)
ERRORS = responses(NotAuthenticated, Forbidden, NotFound)


@router.get("/users", response_model=list[UserOut], responses=ERRORS)
def list_users(session: SessionDep, principal: AdminPrincipal) -> list[UserOut]:
    """Every person, of every park."""
    return [UserOut.model_validate(u) for u in users.list_users(session, None)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=responses(NotAuthenticated, Forbidden, NotFound, Conflict, InvalidInput),
)
def create_user(body: UserIn, session: SessionDep, principal: AdminPrincipal) -> UserOut:
    return service.create_user(session, principal, body)


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidInput),
)
def change_user(user_id: IdPath, body: UserChange, session: SessionDep, principal: AdminPrincipal) -> UserOut:
    """Disable or enable a person, or set a new password; either ends their sessions."""
    return service.change_user(session, principal, service.user_by_id(session, user_id), body)


@router.get("/tokens", response_model=list[TokenOut], responses=ERRORS)
def list_tokens(session: SessionDep, principal: AdminPrincipal) -> list[TokenOut]:
    """Machine tokens of the chosen park (``?park=<code>``), without their secrets."""
    return [TokenOut.model_validate(t) for t in tokens.list_tokens(session, principal.park)]


@router.post(
    "/tokens",
    response_model=NewToken,
    status_code=status.HTTP_201_CREATED,
    responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidInput),
)
def create_token(body: TokenIn, session: SessionDep, principal: AdminPrincipal) -> NewToken:
    """A machine token for the chosen park; its secret is in this answer only."""
    return service.create_token(session, principal, body)


@router.delete("/tokens/{token_id}", response_model=TokenOut, responses=ERRORS)
def revoke_token(token_id: IdPath, session: SessionDep, principal: AdminPrincipal) -> TokenOut:
    return service.revoke_token(session, principal, token_id)


@router.get(
    "/audit", response_model=list[AuditOut], responses=responses(NotAuthenticated, Forbidden, InvalidRange)
)
def audit_log(
    session: SessionDep,
    principal: AdminPrincipal,
    period: TimeRangeDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    all_parks: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditOut]:
    """Who created, changed, submitted or replayed what and when, newest first: of the
    chosen park, or of every park (and the command line) with ``all_parks``."""
    park_id = None if all_parks else principal.park
    rows = audit.entries(session, park_id, period.start, period.end, action, limit, offset)
    return [AuditOut.model_validate(r) for r in rows]
