"""Conductivity against temperature and the activation energy (kind ``arrhenius``).

Method: one spectrum per ``eis`` step, each at the mean of its points' temperatures; R_b
and σ as in :mod:`cyclerctl.analysis.conductivity`. The activation energy comes from the
Arrhenius law σ = A · exp(−Ea / (k_B T)), i.e. a least-squares line ln σ = ln A − (Ea/k_B)(1/T)
(the usual form for polymer and quasi-solid electrolytes over a limited range; see e.g.
Ratner, Johansson & Shriver, MRS Bull. 25 (2000) 31). Its standard error is that of the
slope (needs three temperatures or more); r² goes in the result's source.

The option ``form = "sigma_T"`` fits ln σT against 1/T instead (the form of hopping
conduction in solids; its Ea is larger by about k_B T̄); the result's source says which
form was fitted and how to get the other (``reanalyse(store, run, options={"form": ...})``).

Results: ``conductivity_vs_temperature`` (the table), ``activation_energy_eV`` and
``activation_energy_kJ_mol`` with their standard errors ``activation_energy_stderr_eV`` /
``..._kJ_mol`` (needs ≥ 3 temperatures), ``arrhenius_prefactor`` A (S/cm, or S/cm·K for σT;
its ln and standard error in the source), ``eis_fits`` (each spectrum's fit, labelled by
temperature), ``kk_check`` and optionally ``drt`` (as for ``conductivity``), and, with the option
``reference_temperature`` ("25 degC"; a bare number is K), ``conductivity_S_cm`` there
from the fitted line. Without a cell thickness σ is unknown but Ea is not: the line is then
fitted to ln(1/R_b), which has the same slope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis.conductivity import conductivity_S_cm, spectra, spectrum_results
from cyclerctl.analysis.run import RunData, parse_value
from cyclerctl.store import Result

ANALYSIS_VERSION = "arrhenius/2"
BOLTZMANN_eV_K = 8.617333262e-5
ZERO_CELSIUS_K = 273.15
#: 1 eV per particle in kJ/mol: e · N_A / 1000 (CODATA 2018, exact).
KJ_MOL_PER_EV = 96.48533212
#: The two forms in use: σ = A e^(−Ea/kT) and σT = A e^(−Ea/kT) (the latter from the
#: Nernst–Einstein relation for hopping conduction in solids; West, *Solid State Chemistry*).
FORMS = ("sigma", "sigma_T")


@dataclass(frozen=True, slots=True)
class ArrheniusFit:
    activation_energy_eV: float
    stderr_eV: float | None  # None with only two temperatures
    ln_prefactor: float  # ln A, A in the unit of the fitted σ (times K for the σT form)
    r2: float
    n: int
    form: str = "sigma"  # "sigma": ln σ vs 1/T; "sigma_T": ln σT vs 1/T
    ln_prefactor_stderr: float | None = None

    def at(self, temperature_K: float) -> float:
        """The fitted σ (or 1/R_b) at a temperature, whichever the form."""
        y = math.exp(
            self.ln_prefactor - self.activation_energy_eV / (BOLTZMANN_eV_K * temperature_K)
        )
        return y / temperature_K if self.form == "sigma_T" else y


def fit_arrhenius(
    temperature_K: np.ndarray[Any, Any], sigma: np.ndarray[Any, Any], form: str = "sigma"
) -> ArrheniusFit:
    """Least-squares line ln σ (``form="sigma"``) or ln σT (``"sigma_T"``) against 1/T;
    ValueError with fewer than two temperatures or an unknown form."""
    if form not in FORMS:
        raise ValueError(f"unknown Arrhenius form {form!r}; known: {', '.join(FORMS)}")
    T = np.asarray(temperature_K, dtype=float)
    x = 1.0 / T
    y = np.log(np.asarray(sigma, dtype=float) * (T if form == "sigma_T" else 1.0))
    if np.unique(x).size < 2:
        raise ValueError("an Arrhenius fit needs at least two temperatures")
    (slope, intercept), cov = np.polyfit(x, y, 1, cov="unscaled")
    residual = y - (slope * x + intercept)
    ss_res = float(residual @ residual)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    dof = x.size - 2
    stderr = math.sqrt(ss_res / dof * cov[0, 0]) * BOLTZMANN_eV_K if dof > 0 else None
    ln_a_err = math.sqrt(ss_res / dof * cov[1, 1]) if dof > 0 else None
    return ArrheniusFit(
        activation_energy_eV=float(-slope * BOLTZMANN_eV_K),
        stderr_eV=stderr,
        ln_prefactor=float(intercept),
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0,
        n=int(x.size),
        form=form,
        ln_prefactor_stderr=ln_a_err,
    )


def form_option(run: RunData) -> str:
    """The ``[analysis] form`` option ("sigma" by default, or "sigma_T")."""
    form = str(run.options.get("form", "sigma"))
    if form not in FORMS:
        raise ValueError(f"[analysis] form = {form!r}: allowed {', '.join(FORMS)}")
    return form


def analyse_arrhenius(run: RunData) -> dict[str, Result]:
    cell = run.cell
    thickness = cell.thickness_m if cell.thickness_m and cell.area_m2 > 0 else None
    table: list[dict[str, Any]] = []
    used_T: list[float] = []
    used_y: list[float] = []  # σ in S/cm, or 1/R_b without a thickness
    used_steps: list[int] = []
    skipped: list[int] = []
    measured = spectra(run)
    for m in measured:
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
        ),
        "eis_fits": Result(
            data=[
                {
                    "step": m.step.step,
                    "label": m.label,
                    "bulk_resistance_ohm": m.bulk.ohm,
                    "notes": list(m.bulk.notes),
                    **m.fit_data(),
                }
                for m in measured
            ],
            source={"steps": [m.step.step for m in measured]},
        ),
        **spectrum_results(run, measured),
    }
    if len(set(used_T)) < 2:
        return results
    form = form_option(run)
    fit = fit_arrhenius(np.array(used_T), np.array(used_y), form)
    y_name = "sigma" if thickness else "1/R_b"
    fitted = f"ln({y_name})" if form == "sigma" else f"ln({y_name} * T)"
    source: dict[str, Any] = {
        "steps": used_steps,
        "temperatures_K": used_T,
        "r2": fit.r2,
        "stderr_eV": fit.stderr_eV,
        "form": form,
        "fitted": fitted,
        "against": "1/T",
        "other_form": "set [analysis] form = "
        + ('"sigma_T"' if form == "sigma" else '"sigma"')
        + " (or reanalyse with options={'form': ...})",
    }
    if skipped:
        source["skipped_steps_without_temperature"] = skipped
    results["activation_energy_eV"] = Result(
        value=fit.activation_energy_eV, unit="eV", source=source
    )
    results["activation_energy_kJ_mol"] = Result(
        value=fit.activation_energy_eV * KJ_MOL_PER_EV, unit="kJ/mol", source=source
    )
    if fit.stderr_eV is not None:
        results["activation_energy_stderr_eV"] = Result(
            value=fit.stderr_eV, unit="eV", source={"steps": used_steps}
        )
        results["activation_energy_stderr_kJ_mol"] = Result(
            value=fit.stderr_eV * KJ_MOL_PER_EV, unit="kJ/mol", source={"steps": used_steps}
        )
    unit = ("S/cm" if thickness else "S") + ("*K" if form == "sigma_T" else "")
    results["arrhenius_prefactor"] = Result(
        value=math.exp(fit.ln_prefactor),
        unit=unit,
        source={
            **source,
            "ln_prefactor": fit.ln_prefactor,
            "ln_prefactor_stderr": fit.ln_prefactor_stderr,
        },
    )
    reference = parse_value(run.options.get("reference_temperature"), "temperature")
    if reference is not None and thickness:
        results["conductivity_S_cm"] = Result(
            value=fit.at(reference),
            unit="S/cm",
            source={"reference_temperature_K": reference, "from": "Arrhenius fit", **source},
        )
    return results
