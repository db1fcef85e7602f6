"""Printing benchmark results: a table for people, one JSON object for scripts."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import typer


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    value: float
    unit: str
    label: str


def emit(title: str, measures: list[Measure], as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps({m.key: round(m.value, 3) for m in measures}).decode())
        return
    typer.echo(title)
    width = max(len(m.label) for m in measures)
    for m in measures:
        number = f"{m.value:,.0f}" if abs(m.value) >= 100 else f"{m.value:,.3f}"
        typer.echo(f"  {m.label:<{width}}  {number:>14} {m.unit:<12} ({m.key})")
