"""Request-scoped dependencies: the one session that commits, and the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.errors import Forbidden, NotAuthenticated
from services.api.security import token_hash
from services.core.models import ApiPrincipal, PrincipalRole

SESSION_COOKIE = "pc_token"
bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def principal_for_token(session: Session, token: str) -> ApiPrincipal | None:
    return session.scalar(
        select(ApiPrincipal).where(
            ApiPrincipal.token_sha256 == token_hash(token), ApiPrincipal.active.is_(True)
        )
    )


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiPrincipal:
    if credentials is None:
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    principal = principal_for_token(session, credentials.credentials)
    if principal is None:
        raise NotAuthenticated("unknown or revoked token")
    return principal


CurrentPrincipal = Annotated[ApiPrincipal, Depends(get_principal)]


def require_operator(principal: CurrentPrincipal) -> ApiPrincipal:
    if principal.role is not PrincipalRole.OPERATOR:
        raise Forbidden("this resource is for park operators")
    return principal


OperatorPrincipal = Annotated[ApiPrincipal, Depends(require_operator)]


def require_gateway(principal: CurrentPrincipal) -> ApiPrincipal:
    if principal.role is not PrincipalRole.GATEWAY:
        raise Forbidden("telemetry is accepted from gateway tokens only")
    return principal


GatewayPrincipal = Annotated[ApiPrincipal, Depends(require_gateway)]
