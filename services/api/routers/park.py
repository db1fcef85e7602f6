"""Park overview and coverage: views of the whole park (admins, operators, viewers)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.access.dependencies import ParkReader
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.carbon import queries
from services.carbon.schemas import CoverageOut, ParkOverview
from services.core.db import SessionDep
from services.core.errors import Forbidden, NotAuthenticated, responses

router = APIRouter(prefix="/api/v1", tags=["park"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES)


@router.get("/park", response_model=ParkOverview, responses=responses(NotAuthenticated, Forbidden))
def park_overview(session: SessionDep, principal: ParkReader) -> ParkOverview:
    """园区总览: load, latest 电碳因子, last-24 h energy and emissions, every enterprise and
    its coverage status, and the hourly 电碳因子 of the last 7 days."""
    return queries.overview(session, principal.park, datetime.now(UTC))


@router.get("/coverage", response_model=CoverageOut, responses=responses(NotAuthenticated, Forbidden))
def coverage(session: SessionDep, principal: ParkReader) -> CoverageOut:
    """平台企业覆盖率 against the > 95 % target, with the enterprises not covered and why."""
    return queries.coverage(session, principal.park, datetime.now(UTC))
