"""Zero-carbon park indicators and the scorecard against tiers (一类/二类/三类): operator views."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.deps import OperatorPrincipal, SessionDep
from services.api.errors import Forbidden, InvalidRange, NotAuthenticated, responses
from services.api.routers.time_range import TimeRangeDep
from services.api.schemas import ScorecardOut, ThresholdIn
from services.carbon.indicators import ScoreLine, compute_indicators, scorecard
from services.carbon.inputs import replace_park_thresholds
from services.core.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["indicators"])


def _judged(session: SessionDep, park_id: int, period: TimeRangeDep) -> ScorecardOut:
    settings = get_settings()
    values = compute_indicators(
        session,
        park_id,
        period.start,
        period.end,
        settings.indicator_energy_basis,
        settings.electricity_equivalent_kgce_per_kwh,
    )
    return ScorecardOut(indicators=values, scorecard=scorecard(session, park_id, values))


@router.get(
    "/indicators",
    response_model=ScorecardOut,
    responses=responses(NotAuthenticated, Forbidden, InvalidRange),
)
def indicators(session: SessionDep, principal: OperatorPrincipal, period: TimeRangeDep) -> ScorecardOut:
    """单位能耗碳排放, clean-energy and non-fossil shares, coverage, storage ratio over the
    period, and the park's scorecard, each line with its source."""
    return _judged(session, principal.park_id, period)


@router.put(
    "/indicator-thresholds",
    response_model=list[ScoreLine],
    responses=responses(NotAuthenticated, Forbidden),
)
def set_thresholds(
    body: list[ThresholdIn], session: SessionDep, principal: OperatorPrincipal, period: TimeRangeDep
) -> list[ScoreLine]:
    """Replace the park's own scorecard lines (the defaults stay for the rest) and return the
    scorecard judged over the period."""
    replace_park_thresholds(session, principal.park_id, [line.model_dump() for line in body])
    return _judged(session, principal.park_id, period).scorecard
