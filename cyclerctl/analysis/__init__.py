"""The numbers each protocol exists for, computed from what the store holds.

``analyse`` picks the analysis named by the protocol's ``[analysis] kind`` and returns its
results and version, so a re-analysis of the same data is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cyclerctl.analysis.cycling import ANALYSIS_VERSION as CYCLING_VERSION
from cyclerctl.analysis.cycling import analyse_cycling
from cyclerctl.plan import CellSummary
from cyclerctl.store import Result, StepRecord

KINDS = ("cycling",)


@dataclass(frozen=True, slots=True)
class Analysis:
    version: str
    results: dict[str, Result] = field(default_factory=dict)


def analyse(options: Mapping[str, Any], steps: Iterable[StepRecord], cell: CellSummary) -> Analysis:
    kind = options.get("kind")
    if kind is None:
        return Analysis("none")
    if kind == "cycling":
        return Analysis(CYCLING_VERSION, analyse_cycling(steps, cell, options))
    raise ValueError(f"unknown analysis kind {kind!r}; known: {', '.join(KINDS)}")
