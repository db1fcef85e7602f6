"""Park overview and coverage: operator views."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.api import queries
from services.api.deps import OperatorPrincipal, SessionDep
from services.api.errors import Forbidden, NotAuthenticated, responses
from services.api.schemas import CoverageOut, ParkOverview

router = APIRouter(prefix="/api/v1", tags=["park"])


@router.get("/park", response_model=ParkOverview, responses=responses(NotAuthenticated, Forbidden))
def park_overview(session: SessionDep, principal: OperatorPrincipal) -> ParkOverview:
    """园区总览: load, latest 电碳因子, last-24 h energy and emissions, every enterprise and
    its coverage status, and the hourly 电碳因子 of the last 7 days."""
    return queries.overview(session, principal.park_id, datetime.now(UTC))


@router.get("/coverage", response_model=CoverageOut, responses=responses(NotAuthenticated, Forbidden))
def coverage(session: SessionDep, principal: OperatorPrincipal) -> CoverageOut:
    """平台企业覆盖率 against the > 95 % target, with the enterprises not covered and why."""
    return queries.coverage(session, principal.park_id, datetime.now(UTC))
