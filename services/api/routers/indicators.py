"""Zero-carbon park indicators and the scorecard against tiers (一类/二类/三类): operator views."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from services.access.dependencies import ParkReader, ParkWriter, ReadableEnterprise, Reader, SettingsDep
from services.api.routers import AUTHENTICATED, COMMON_RESPONSES
from services.api.tables import FormatParam, table_content
from services.carbon.indicators import (
    ComparisonLine,
    ScoreLine,
    compute_indicators,
    enterprise_against_park,
    scorecard,
)
from services.carbon.inputs import replace_park_thresholds
from services.carbon.schemas import EnterpriseIndicatorsOut, ScorecardOut, ThresholdIn
from services.carbon.trajectory import Trajectory, trajectory
from services.core.db import SessionDep
from services.core.errors import Forbidden, InvalidInput, InvalidRange, NotAuthenticated, NotFound, responses
from services.core.exports import XLSX, attachment, table_file, xlsx_bytes
from services.core.models import Park
from services.core.params import EndDep, TimeRangeDep
from services.core.settings import Settings

router = APIRouter(
    prefix="/api/v1", tags=["indicators"], dependencies=AUTHENTICATED, responses=COMMON_RESPONSES
)


def _judged(session: SessionDep, park_id: int, period: TimeRangeDep, settings: Settings) -> ScorecardOut:
    values = compute_indicators(
        session,
        park_id,
        period.start,
        period.end,
        settings.indicator_energy_basis,
        settings.electricity_equivalent_kgce_per_kwh,
        settings.export_treatment,
        settings.green_deduction,
        settings.certificate_matching,
    )
    return ScorecardOut(indicators=values, scorecard=scorecard(session, park_id, values))


@router.get(
    "/indicators",
    response_model=ScorecardOut,
    responses={
        **table_content("the indicators; as a file: the scorecard (CSV), or every table (Excel)"),
        **responses(NotAuthenticated, Forbidden, InvalidRange),
    },
)
def indicators(
    session: SessionDep,
    principal: ParkReader,
    period: TimeRangeDep,
    settings: SettingsDep,
    format: FormatParam = "json",
) -> ScorecardOut | Response:
    """单位能耗碳排放, clean-energy and non-fossil shares, coverage, storage ratio over the
    period, and the park's scorecard, each line with its source. ``policy_variants`` gives
    单位能耗碳排放 under every combination of export treatment, green-power deduction and
    energy basis (services/carbon/policies.py), each judged on its own size tier.
    ``format=csv``: the scorecard; ``format=xlsx``: the indicators, the scorecard and the
    policy variants, a sheet each."""
    judged = _judged(session, principal.park, period, settings)
    if format == "json":
        return judged
    lines = [asdict(line) for line in judged.scorecard]
    score_header = list(lines[0]) if lines else [f.name for f in fields(ScoreLine)]
    score_rows = [[line[k] for k in score_header] for line in lines]
    if format == "csv":
        return table_file("评分卡", score_header, score_rows, "csv")
    values = asdict(judged.indicators)
    variants = values.pop("policy_variants")
    variant_header = list(variants[0]) if variants else []
    sheets = [
        ("指标", ["indicator", "value"], [[k, _plain(v)] for k, v in values.items()]),
        ("评分卡", score_header, score_rows),
        ("政策组合", variant_header, [[_plain(v[k]) for k in variant_header] for v in variants]),
    ]
    return Response(xlsx_bytes(sheets), media_type=XLSX, headers=attachment("园区指标.xlsx"))


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


@router.put(
    "/indicator-thresholds",
    response_model=list[ScoreLine],
    responses=responses(NotAuthenticated, Forbidden, InvalidInput),
)
def set_thresholds(
    body: Annotated[list[ThresholdIn], Body(max_length=100)],
    session: SessionDep,
    principal: ParkWriter,
    period: TimeRangeDep,
    settings: SettingsDep,
) -> list[ScoreLine]:
    """Replace the park's own scorecard lines (the defaults stay for the rest) and return the
    scorecard judged over the period."""
    replace_park_thresholds(session, principal, [line.model_dump() for line in body])
    return _judged(session, principal.park, period, settings).scorecard


@router.get(
    "/indicators/trajectory",
    response_model=Trajectory,
    responses=responses(NotAuthenticated, Forbidden, InvalidRange),
)
def park_trajectory(
    session: SessionDep, principal: ParkReader, settings: SettingsDep, end: EndDep
) -> Trajectory:
    """单位能耗碳排放 of the park per year since the 2025 base year, its change from the base
    year, and the straight path to the park's target line by ``indicator_target_year``."""
    park = session.get_one(Park, principal.park)
    return trajectory(session, park.id, park.timezone, end, None, settings.indicator_target_year)


@router.get(
    "/enterprises/{enterprise_id}/indicators",
    response_model=EnterpriseIndicatorsOut,
    responses=responses(NotAuthenticated, Forbidden, NotFound, InvalidRange),
)
def enterprise_indicators(
    enterprise_id: ReadableEnterprise,
    session: SessionDep,
    principal: Reader,
    period: TimeRangeDep,
    settings: SettingsDep,
) -> EnterpriseIndicatorsOut:
    """An enterprise against its park over the period (单位能耗碳排放, non-fossil and green
    electricity shares, the guiding indicators of accepted reports, rooftop PV, demand
    response; each with the park's line where the definition is shared), and its own
    单位能耗碳排放 per year since the 2025 base year on the path to the park's target.
    Enterprise users see only themselves."""
    park = session.get_one(Park, principal.park)
    lines: list[ComparisonLine] = enterprise_against_park(
        session, park.id, enterprise_id, period.start, period.end
    )
    path = trajectory(
        session, park.id, park.timezone, period.end, enterprise_id, settings.indicator_target_year
    )
    return EnterpriseIndicatorsOut(comparison=lines, trajectory=path)
