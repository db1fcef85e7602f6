"""Zero-carbon park indicators and the scorecard against tiers (一类/二类/三类): operator views."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from services.api.deps import OperatorPrincipal, SessionDep
from services.api.errors import Forbidden, InvalidRange, NotAuthenticated, responses
from services.api.routers.time_range import TimeRangeDep
from services.api.schemas import IndicatorsOut, ScorecardOut, ScoreLineOut, ThresholdIn
from services.carbon.indicators import compute_indicators, scorecard
from services.carbon.inputs import replace_park_thresholds
from services.core.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["indicators"])


@router.get(
    "/indicators",
    response_model=ScorecardOut,
    responses=responses(NotAuthenticated, Forbidden, InvalidRange),
)
def indicators(session: SessionDep, principal: OperatorPrincipal, period: TimeRangeDep) -> ScorecardOut:
    """单位能耗碳排放, clean-energy and non-fossil shares, coverage, storage ratio over the
    period, and the park's scorecard, each line with its source."""
    settings = get_settings()
    values = compute_indicators(
        session,
        principal.park_id,
        period.start,
        period.end,
        settings.indicator_energy_basis,
        settings.electricity_equivalent_kgce_per_kwh,
    )
    lines = scorecard(session, principal.park_id, values)
    return ScorecardOut(
        indicators=IndicatorsOut(**asdict(values)),
        scorecard=[ScoreLineOut(**asdict(line)) for line in lines],
    )


@router.put(
    "/indicator-thresholds",
    response_model=list[ScoreLineOut],
    responses=responses(NotAuthenticated, Forbidden),
)
def set_thresholds(
    body: list[ThresholdIn], session: SessionDep, principal: OperatorPrincipal, period: TimeRangeDep
) -> list[ScoreLineOut]:
    """Replace the park's own scorecard lines (the defaults stay for the rest) and return the
    scorecard judged over the period."""
    replace_park_thresholds(session, principal.park_id, [line.model_dump() for line in body])
    settings = get_settings()
    values = compute_indicators(
        session,
        principal.park_id,
        period.start,
        period.end,
        settings.indicator_energy_basis,
        settings.electricity_equivalent_kgce_per_kwh,
    )
    return [ScoreLineOut(**asdict(line)) for line in scorecard(session, principal.park_id, values)]
