"""FastAPI dependencies that turn a request into a ``Principal``: ``Authorization: Bearer``
with an OAuth2 access token (``pca_…``) or a machine token (``pct_…``); the dashboard's
signed session cookie. Routers declare ``authenticate`` at router level so that it runs
before anything reads the request's parameters or body."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from services.access import sessions
from services.access.policy import (
    PARK_READERS,
    PARK_WRITERS,
    READERS,
    Principal,
    enterprise_in_park,
    require,
    visible_enterprise,
    writable_enterprise,
)
from services.access.tokens import token_principal
from services.core.db import SessionDep
from services.core.errors import NotAuthenticated, NotFound
from services.core.models import Park, Role, User
from services.core.params import IdPath
from services.core.settings import Settings, get_settings

SESSION_COOKIE = "pc_session"
oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="An OAuth2 access token (pca_…, from /api/v1/auth/token) or a machine token (pct_…)",
)
MAX_TOKEN_LENGTH = 200


def principal_of_user(user: User) -> Principal:
    return Principal("user", user.id, user.username, user.role, user.park_id, user.enterprise_id)


def in_chosen_park(session: Session | Connection, principal: Principal, park_code: str | None) -> Principal:
    """An admin works in the park it names (``?park=<code>``), else in the first park; for
    everybody else naming another park finds nothing."""
    if principal.role is Role.ADMIN:
        query = select(Park.id).order_by(Park.id).limit(1)
        if park_code:
            query = select(Park.id).where(Park.code == park_code[:32])
        chosen = session.scalar(query)
        if chosen is None and park_code:
            raise NotFound(f"park {park_code!r} not found")
        return replace(principal, park_id=chosen)
    if park_code and session.scalar(select(Park.code).where(Park.id == principal.park_id)) != park_code:
        raise NotFound(f"park {park_code!r} not found")
    return principal


def principal_for_bearer(conn: Connection, token: str | None, park_code: str | None) -> Principal:
    """The principal a bearer token stands for, in the park the request chose; raises
    NotAuthenticated (or NotFound for a park it may not name). ``conn``: the authentication
    gate's autocommit connection, or a session's."""
    if not token:
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    now = datetime.now(UTC)
    principal: Principal | None = None
    if len(token) <= MAX_TOKEN_LENGTH:
        if token.startswith(sessions.ACCESS_PREFIX):
            principal = sessions.session_principal(conn, token, "access", now)
        else:
            principal = token_principal(conn, token, now)
    if principal is None:
        raise NotAuthenticated("unknown, expired or revoked token")
    return in_chosen_park(conn, principal, park_code)


async def authenticate(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2)]
) -> Principal:
    """The caller, as the authentication gate (services/api/guards.py) found it before the
    body was read; computed here where no gate ran. The role checks below are coroutines too:
    a plain function dependency costs a trip through the thread pool per request."""
    found = getattr(request.state, "principal", None)
    if isinstance(found, Principal):
        return found
    return await run_in_threadpool(
        principal_for_bearer, session.connection(), token, request.query_params.get("park")
    )


Authenticated = Annotated[Principal, Depends(authenticate)]


async def reader(principal: Authenticated) -> Principal:
    return require(principal, READERS, "this resource")


async def park_reader(principal: Authenticated) -> Principal:
    return require(principal, PARK_READERS, "this park-wide view")


async def park_writer(principal: Authenticated) -> Principal:
    return require(principal, PARK_WRITERS, "changing the park's data")


async def reporter(principal: Authenticated) -> Principal:
    """Writes an enterprise makes for itself and operators for any enterprise."""
    return require(principal, PARK_WRITERS | {Role.ENTERPRISE}, "reporting")


async def gateway(principal: Authenticated) -> Principal:
    return require(principal, frozenset({Role.GATEWAY}), "telemetry")


async def factor_reader(principal: Authenticated) -> Principal:
    return require(principal, READERS | {Role.FACTOR_FEED}, "the factor feed")


async def admin(principal: Authenticated) -> Principal:
    return require(principal, frozenset({Role.ADMIN}), "administration")


Reader = Annotated[Principal, Depends(reader)]
ParkReader = Annotated[Principal, Depends(park_reader)]
ParkWriter = Annotated[Principal, Depends(park_writer)]
Reporter = Annotated[Principal, Depends(reporter)]
GatewayPrincipal = Annotated[Principal, Depends(gateway)]
FactorReader = Annotated[Principal, Depends(factor_reader)]
AdminPrincipal = Annotated[Principal, Depends(admin)]


async def current_settings() -> Settings:
    """``get_settings`` as a dependency: a coroutine, which FastAPI calls on the event loop."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(current_settings)]


def dashboard_principal(request: Request, session: Session, settings: Settings) -> Principal | None:
    """The person signed in to the dashboard, from the signed session cookie, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    secret = sessions.secret_of_cookie(cookie, settings) if cookie else None
    if secret is None:
        return None
    person = sessions.session_principal(session.connection(), secret, "browser", datetime.now(UTC))
    if person is None:
        return None
    return in_chosen_park(session, person, request.query_params.get("park"))


def readable_enterprise(enterprise_id: IdPath, session: SessionDep, principal: Reader) -> int:
    """The path's enterprise if the caller may read it; resolved before the body is read,
    so a foreign id is refused (404) whatever the body holds."""
    visible = visible_enterprise(principal, enterprise_id) or enterprise_id
    return enterprise_in_park(session, principal.park, visible)


def reportable_enterprise(enterprise_id: IdPath, session: SessionDep, principal: Reporter) -> int:
    """The path's enterprise if the caller may report for it (itself; operators any)."""
    return enterprise_in_park(session, principal.park, writable_enterprise(principal, enterprise_id))


ReadableEnterprise = Annotated[int, Depends(readable_enterprise)]
ReportableEnterprise = Annotated[int, Depends(reportable_enterprise)]
