"""Conductivity against temperature and the activation energy (kind ``arrhenius``).

Method: one spectrum per ``eis`` step, each at the mean of its points' temperatures; R_b
and σ as in :mod:`cyclerctl.analysis.conductivity`. The activation energy comes from the
Arrhenius law σ = A · exp(−Ea / (k_B T)), i.e. a least-squares line ln σ = ln A − (Ea/k_B)(1/T)
(the usual form for polymer and quasi-solid electrolytes over a limited range; see e.g.
Ratner, Johansson & Shriver, MRS Bull. 25 (2000) 31). Its standard error is that of the
slope (needs three temperatures or more); r² goes in the result's source.

Results: ``conductivity_vs_temperature`` (the table), ``activation_energy_eV`` and
``activation_energy_stderr_eV`` (needs ≥ 2 temperatures), and, with the option
``reference_temperature`` ("25 degC"; a bare number is K), ``conductivity_S_cm`` there
from the fitted line. Without a cell thickness σ is unknown but Ea is not: the line is then
fitted to ln(1/R_b), which has the same slope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis.conductivity import conductivity_S_cm, spectra
from cyclerctl.analysis.run import RunData, parse_value
from cyclerctl.store import Result

ANALYSIS_VERSION = "arrhenius/1"
BOLTZMANN_eV_K = 8.617333262e-5
ZERO_CELSIUS_K = 273.15


@dataclass(frozen=True, slots=True)
class ArrheniusFit:
    activation_energy_eV: float
    stderr_eV: float | None  # None with only two temperatures
    ln_prefactor: float  # ln A, A in the unit of the fitted σ
    r2: float
    n: int

    def at(self, temperature_K: float) -> float:
        """The fitted σ (or 1/R_b) at a temperature."""
        return math.exp(
            self.ln_prefactor - self.activation_energy_eV / (BOLTZMANN_eV_K * temperature_K)
        )


def fit_arrhenius(temperature_K: np.ndarray[Any, Any], sigma: np.ndarray[Any, Any]) -> ArrheniusFit:
    """Least-squares line ln σ against 1/T; ValueError with fewer than two temperatures."""
    x = 1.0 / np.asarray(temperature_K, dtype=float)
    y = np.log(np.asarray(sigma, dtype=float))
    if np.unique(x).size < 2:
        raise ValueError("an Arrhenius fit needs at least two temperatures")
    (slope, intercept), cov = np.polyfit(x, y, 1, cov="unscaled")
    residual = y - (slope * x + intercept)
    ss_res = float(residual @ residual)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    dof = x.size - 2
    stderr = math.sqrt(ss_res / dof * cov[0, 0]) * BOLTZMANN_eV_K if dof > 0 else None
    return ArrheniusFit(
        activation_energy_eV=float(-slope * BOLTZMANN_eV_K),
        stderr_eV=stderr,
        ln_prefactor=float(intercept),
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0,
        n=int(x.size),
    )


def analyse_arrhenius(run: RunData) -> dict[str, Result]:
    cell = run.cell
    thickness = cell.thickness_m if cell.thickness_m and cell.area_m2 > 0 else None
    table: list[dict[str, Any]] = []
    used_T: list[float] = []
    used_y: list[float] = []  # σ in S/cm, or 1/R_b without a thickness
    used_steps: list[int] = []
    skipped: list[int] = []
    for m in spectra(run):
        T = m.temperature_K
        sigma = conductivity_S_cm(m.bulk.ohm, thickness, cell.area_m2) if thickness else None
        table.append(
            {
                "step": m.step.step,
                "temperature_K": T,
                "temperature_C": None if T is None else T - ZERO_CELSIUS_K,
                "bulk_resistance_ohm": m.bulk.ohm,
                "conductivity_S_cm": sigma,
                "method": m.bulk.method,
            }
        )
        if T is None:
            skipped.append(m.step.step)
            continue
        used_T.append(T)
        used_y.append(sigma if sigma is not None else 1.0 / m.bulk.ohm)
        used_steps.append(m.step.step)
    if not table:
        return {}
    results = {
        "conductivity_vs_temperature": Result(
            data=table, source={"steps": [row["step"] for row in table]}
        )
    }
    if len(set(used_T)) < 2:
        return results
    fit = fit_arrhenius(np.array(used_T), np.array(used_y))
    source: dict[str, Any] = {
        "steps": used_steps,
        "temperatures_K": used_T,
        "r2": fit.r2,
        "stderr_eV": fit.stderr_eV,
        "fitted": "ln(sigma)" if thickness else "ln(1/R_b)",
    }
    if skipped:
        source["skipped_steps_without_temperature"] = skipped
    results["activation_energy_eV"] = Result(
        value=fit.activation_energy_eV, unit="eV", source=source
    )
    if fit.stderr_eV is not None:
        results["activation_energy_stderr_eV"] = Result(
            value=fit.stderr_eV, unit="eV", source={"steps": used_steps}
        )
    reference = parse_value(run.options.get("reference_temperature"), "temperature")
    if reference is not None and thickness:
        results["conductivity_S_cm"] = Result(
            value=fit.at(reference),
            unit="S/cm",
            source={"reference_temperature_K": reference, "from": "Arrhenius fit", **source},
        )
    return results
