"""What every dashboard page shares: the templates (with the park-time filter), the person
signed in (``SignedIn`` for pages, ``SignedInForm`` for posted forms) and the way back to the
sign-in page for everybody else."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.access.dependencies import SettingsDep, dashboard_principal
from services.access.policy import Principal
from services.core.db import SessionDep
from services.dashboard.i18n import pick_lang

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _park_time(ts: datetime, tz: ZoneInfo) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M")


templates.env.filters["park_time"] = _park_time


def to_login(lang: str | None) -> RedirectResponse:
    return RedirectResponse(f"/login?lang={pick_lang(lang)}", status_code=303)


class SignInNeeded(Exception):
    """Nobody with a park is signed in to the dashboard: the page answers with the sign-in
    page, in the language it was asked in (``answer_sign_in_needed``, registered by the app)."""

    def __init__(self, lang: str | None) -> None:
        super().__init__("sign in to the dashboard")
        self.lang = lang


def _signed_in(request: Request, session: SessionDep, settings: SettingsDep, lang: str | None) -> Principal:
    principal = dashboard_principal(request, session, settings)
    if principal is None or principal.park_id is None:
        raise SignInNeeded(lang)
    return principal


def page_principal(
    request: Request, session: SessionDep, settings: SettingsDep, lang: str | None = None
) -> Principal:
    """The person signed in, for a page (``?lang=`` names the sign-in page's language)."""
    return _signed_in(request, session, settings, lang)


def form_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: Annotated[str, Form(max_length=8)] = "zh",
) -> Principal:
    """The person signed in, for a posted form (its ``lang`` field)."""
    return _signed_in(request, session, settings, lang)


SignedIn = Annotated[Principal, Depends(page_principal)]
SignedInForm = Annotated[Principal, Depends(form_principal)]


async def answer_sign_in_needed(_request: Request, error: Exception) -> Response:
    return to_login(error.lang if isinstance(error, SignInNeeded) else None)
