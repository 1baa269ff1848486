"""Results from what the database holds, so `cyclerctl analyze RUN` recomputes them.

Everything an analysis reads comes from the run's own rows (steps, samples, impedance,
events, the stored cell and parameters), never from memory of the run that made them:
the same data and the same analysis version give the same numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from cyclerctl.analysis import Analysis, RunData, analyse, dqdv
from cyclerctl.analysis.dqdv import DEFAULT_BIN_WIDTH_V, DEFAULT_CAPACITY_BINS, Curve
from cyclerctl.plan import CellSummary
from cyclerctl.store import Store


def run_data(store: Store, run_id: int) -> RunData:
    run = store.get_run(run_id)
    snapshot = store.run_snapshot(run_id)
    if run is None or snapshot is None:
        raise KeyError(f"no run {run_id}")
    return RunData(
        cell=_cell(snapshot["cell"]),
        parameters=run.parameters,
        options=run.analysis,
        steps=store.steps(run_id),
        samples=store.samples(run_id),
        impedance=store.impedance(run_id),
        events=store.events(run_id),
        end_reason=run.end_reason,
    )


def reanalyse(
    store: Store,
    run_id: int,
    *,
    end_reason: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Analysis:
    """Compute the run's results and store them (replacing earlier ones).

    ``options`` override the protocol's ``[analysis]`` options for this computation, e.g.
    ``{"form": "sigma_T"}`` for the other Arrhenius form or ``{"drt": True}``; the stored
    results' sources say which were used.
    """
    data = run_data(store, run_id)
    if end_reason is not None:  # the run is ending now: its row does not say so yet
        data = dataclasses.replace(data, end_reason=end_reason)
    if options:
        data = dataclasses.replace(data, options={**data.options, **options})
    analysis = analyse(data)
    store.save_results(run_id, analysis.results, analysis_version=analysis.version)
    return analysis


def _cell(stored: dict[str, Any]) -> CellSummary:
    fields = {k: stored[k] for k in CellSummary.__dataclass_fields__ if k in stored}
    return CellSummary(**fields)


def differential_capacity(
    store: Store,
    run_id: int,
    cycles: Iterable[int],
    *,
    bin_width_V: float = DEFAULT_BIN_WIDTH_V,
    capacity_bins: int = DEFAULT_CAPACITY_BINS,
) -> list[Curve]:
    """dQ/dV and dV/dQ of the chosen cycles of a stored run (`analyze RUN --dqdv 1,10,100`).

    The method is :mod:`cyclerctl.analysis.dqdv`'s (voltage binning, stated on each curve).
    KeyError for an unknown run; ValueError when none of the cycles has galvanostatic points.
    """
    return dqdv.differential_capacity(
        run_data(store, run_id), cycles, bin_width_V=bin_width_V, capacity_bins=capacity_bins
    )
