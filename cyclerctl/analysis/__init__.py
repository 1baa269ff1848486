"""The numbers each protocol exists for, computed from what the store holds.

``analyse`` picks the analysis named by the protocol's ``[analysis] kind`` and returns its
results and version, so a re-analysis of the same data is reproducible. Each kind is one
module with pure functions over numpy arrays and a thin ``analyse_<kind>(run)`` on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cyclerctl.analysis import (
    arrhenius,
    ccd,
    conductivity,
    coulombic,
    cycling,
    lili,
    lsv,
    nucleation,
    rate,
    transference,
)
from cyclerctl.analysis.run import RunData
from cyclerctl.store import Result

__all__ = ["KINDS", "Analysis", "RunData", "analyse"]

Analyser = Callable[[RunData], dict[str, Result]]

#: kind → (analysis version, analysis)
_ANALYSES: dict[str, tuple[str, Analyser]] = {
    "cycling": (cycling.ANALYSIS_VERSION, cycling.analyse_cycling),
    "conductivity": (conductivity.ANALYSIS_VERSION, conductivity.analyse_conductivity),
    "arrhenius": (arrhenius.ANALYSIS_VERSION, arrhenius.analyse_arrhenius),
    "lsv-onset": (lsv.ANALYSIS_VERSION, lsv.analyse_lsv_onset),
    "li-cu-ce": (coulombic.ANALYSIS_VERSION, coulombic.analyse_li_cu_ce),
    "ccd": (ccd.ANALYSIS_VERSION, ccd.analyse_ccd),
    "li-li-cycling": (lili.ANALYSIS_VERSION, lili.analyse_li_li_cycling),
    "nucleation": (nucleation.ANALYSIS_VERSION, nucleation.analyse_nucleation),
    "bruce-vincent": (transference.ANALYSIS_VERSION, transference.analyse_bruce_vincent),
    "rate-capability": (rate.ANALYSIS_VERSION, rate.analyse_rate_capability),
}
KINDS: tuple[str, ...] = tuple(_ANALYSES)


@dataclass(frozen=True, slots=True)
class Analysis:
    version: str
    results: dict[str, Result] = field(default_factory=dict)


def analyse(run: RunData) -> Analysis:
    """The results of the analysis the protocol names; ``"none"`` when it names none."""
    kind = run.options.get("kind")
    if kind is None:
        return Analysis("none")
    try:
        version, analyser = _ANALYSES[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown analysis kind {kind!r}; known: {', '.join(KINDS)}") from None
    return Analysis(version, analyser(run))
