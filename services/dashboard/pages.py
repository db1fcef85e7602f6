"""What every dashboard page shares: the templates (with the park-time filter) and the way
back to the sign-in page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from services.dashboard.i18n import pick_lang

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _park_time(ts: datetime, tz: ZoneInfo) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M")


templates.env.filters["park_time"] = _park_time


def to_login(lang: str | None) -> RedirectResponse:
    return RedirectResponse(f"/login?lang={pick_lang(lang)}", status_code=303)
