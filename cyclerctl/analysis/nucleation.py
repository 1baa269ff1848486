"""Li nucleation overpotential on Cu (kind ``nucleation``).

Method (Yan et al., Nat. Energy 1 (2016) 16010; Pei et al., Nano Lett. 17 (2017) 1132):
plate Li onto bare Cu at constant current. The voltage first dips (the overpotential to form
nuclei), then recovers to a plateau (growth on the nuclei). With V_dip the most negative
voltage within the first ``dip_window`` of the step (default 20 % of its duration) and
V_plateau the median voltage over ``plateau_window`` (default 20–60 % of the duration, where
the voltage is flat):

    nucleation_overpotential_mV = |V_dip − V_plateau| × 1000
    plateau_overpotential_mV    = |V_plateau| × 1000

Both windows are fractions of the step's duration and may be set as ``[analysis]``
options. The step is the one named "plate".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis.run import RunData, seq_range, step_samples, steps_named
from cyclerctl.store import Result

ANALYSIS_VERSION = "nucleation/1"
DIP_WINDOW = 0.2
PLATEAU_WINDOW = (0.2, 0.6)


@dataclass(frozen=True, slots=True)
class Nucleation:
    dip_V: float
    dip_t_s: float  # from the start of the step
    plateau_V: float

    @property
    def nucleation_overpotential_mV(self) -> float:
        return abs(self.dip_V - self.plateau_V) * 1e3

    @property
    def plateau_overpotential_mV(self) -> float:
        return abs(self.plateau_V) * 1e3


def nucleation(
    t: np.ndarray[Any, Any],
    V: np.ndarray[Any, Any],
    dip_window: float = DIP_WINDOW,
    plateau_window: Sequence[float] = PLATEAU_WINDOW,
) -> Nucleation | None:
    """Dip and plateau of a plating transient; None with too few points to tell."""
    if V.size < 3:
        return None
    rel = (t - t[0]) / (t[-1] - t[0]) if t[-1] > t[0] else np.linspace(0.0, 1.0, t.size)
    early = rel <= dip_window
    lo, hi = plateau_window
    flat = (rel >= lo) & (rel <= hi)
    if not early.any() or not flat.any():
        return None
    i = int(np.flatnonzero(early)[np.argmin(V[early])])
    return Nucleation(float(V[i]), float(t[i] - t[0]), float(np.median(V[flat])))


def analyse_nucleation(run: RunData) -> dict[str, Result]:
    plates = steps_named(run, "plate")
    if not plates:
        return {}
    step = plates[0]
    rows = step_samples(run, step)
    dip_window = float(run.options.get("dip_window", DIP_WINDOW))
    plateau_window = tuple(float(x) for x in run.options.get("plateau_window", PLATEAU_WINDOW))
    found = nucleation(rows["t"], rows["V"], dip_window, plateau_window)
    if found is None:
        return {}
    source = {
        "steps": [step.step],
        "seq": seq_range(rows),
        "dip_V": found.dip_V,
        "dip_after_s": found.dip_t_s,
        "plateau_V": found.plateau_V,
        "dip_window": dip_window,
        "plateau_window": list(plateau_window),
    }
    return {
        "nucleation_overpotential_mV": Result(
            value=found.nucleation_overpotential_mV, unit="mV", source=source
        ),
        "plateau_overpotential_mV": Result(
            value=found.plateau_overpotential_mV, unit="mV", source=source
        ),
    }
