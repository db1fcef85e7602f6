"""Sign-in for people: the OAuth2 password grant (RFC 6749 §4.3) returns a short-lived
access token; logout ends it. Machines use tokens from `parkcarbon token create`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from services.access import sessions
from services.access.dependencies import Authenticated, SettingsDep, oauth2
from services.access.schemas import AccessToken, Me
from services.core.db import SessionDep
from services.core.errors import COMMON_RESPONSES, ErrorBody, NotAuthenticated, RateLimited, responses

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=COMMON_RESPONSES)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/token", response_model=AccessToken, responses=responses(NotAuthenticated, RateLimited))
def issue_access_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> AccessToken | JSONResponse:
    """Username and password in, a bearer access token out (``expires_in`` seconds). Failed
    attempts are limited per username and per address; past the limit the answer is 429."""
    signed_in = sessions.sign_in(
        session,
        username=form.username[:64],
        password=form.password,
        address=client_address(request),
        kind="access",
        settings=settings,
        now=datetime.now(UTC),
    )
    if signed_in is None:
        # Answered, not raised: the request's transaction must commit the recorded failure.
        body = ErrorBody(error=NotAuthenticated.code, detail="wrong username or password")
        return JSONResponse(body.model_dump(), 401, headers={"WWW-Authenticate": "Bearer"})
    return AccessToken(access_token=signed_in.secret, expires_in=settings.access_token_minutes * 60)


@router.post("/logout", status_code=204, responses=responses(NotAuthenticated))
def logout(
    session: SessionDep, principal: Authenticated, token: Annotated[str | None, Depends(oauth2)]
) -> None:
    """End this access token now (machine tokens are revoked by an admin instead)."""
    if principal.kind == "user" and token:
        sessions.end_session(session, token, datetime.now(UTC))


@router.get("/me", response_model=Me, responses=responses(NotAuthenticated))
def me(principal: Authenticated) -> Me:
    """Who the token belongs to and what it is scoped to."""
    return Me(
        kind=principal.kind,
        name=principal.name,
        role=principal.role.value,
        park_id=principal.park_id,
        enterprise_id=principal.enterprise_id,
        gateway_id=principal.gateway_id,
    )
