"""Ionic conductivity of a membrane between blocking electrodes (kind ``conductivity``).

Method: PEIS on stainless steel | membrane | stainless steel; the bulk resistance R_b is
read from an equivalent-circuit fit (:func:`cyclerctl.analysis.eis.bulk_resistance`), and

    σ = L / (R_b · S)

with L the membrane thickness (``cell.thickness_m``) and S the electrode area
(``cell.area_m2``). See e.g. Irvine, Sinclair & West, Adv. Mater. 2 (1990) 132 for reading
bulk resistances of ion conductors from impedance spectra.

Results: ``bulk_resistance_ohm``; ``conductivity_S_cm`` (absent without a thickness);
``eis_fit`` (the circuit, its parameters, standard errors, χ², the spectrum's temperature);
``kk_check`` (the Lin-KK validity check, run before the fit, :mod:`.kk`), and with the
option ``drt = true`` the spectrum's distribution of relaxation times ``drt`` (:mod:`.drt`).
The spectrum is that of the last ``eis`` step that measured any point. Option ``circuit``
("auto", "R-CPE", "R-RQ", "R-RQ-W") chooses the circuit; "auto" by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cyclerctl.analysis import drt as drt_module
from cyclerctl.analysis import kk, spectrum
from cyclerctl.analysis.eis import BulkResistance, bulk_resistance
from cyclerctl.analysis.run import (
    S_CM_PER_S_M,
    RunData,
    mean_temperature_K,
    seq_range,
    step_impedance,
    steps_of_kind,
)
from cyclerctl.store import Result, StepRecord

ANALYSIS_VERSION = "conductivity/2"


def conductivity_S_cm(bulk_resistance_ohm: float, thickness_m: float, area_m2: float) -> float:
    """σ = L / (R_b S), in S/cm."""
    return thickness_m / (bulk_resistance_ohm * area_m2) * S_CM_PER_S_M


@dataclass(frozen=True, slots=True)
class SpectrumBulk:
    """One step's spectrum and the bulk resistance read from it."""

    step: StepRecord
    rows: NDArray[Any]  # IMPEDANCE_ROW_DTYPE
    bulk: BulkResistance
    temperature_K: float | None
    kk: kk.KKCheck | None = None

    @property
    def label(self) -> str:
        """How a figure names the spectrum: its temperature, else its step."""
        if self.temperature_K is not None:
            return f"{self.temperature_K - 273.15:.0f} °C"
        return f"step {self.step.step}"

    def source(self) -> dict[str, Any]:
        return {"steps": [self.step.step], "impedance_seq": seq_range(self.rows)}

    def fit_data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.bulk.fit.as_data() if self.bulk.fit else {"circuit": None}
        return {**data, "method": self.bulk.method, "temperature_K": self.temperature_K}


def measure_step(run: RunData, step: StepRecord, circuit: str = "auto") -> SpectrumBulk | None:
    """R_b of one ``eis`` step's spectrum; None when the step measured no point."""
    rows = step_impedance(run, step)
    if rows.size == 0:
        return None
    f = rows["f"].astype(np.float64)
    z = (rows["Zre"] + 1j * rows["Zim"]).astype(np.complex128)
    check = kk.check_or_none(f, z)  # the validity check comes before any fit
    bulk = bulk_resistance(f, z, circuit)
    warning = kk.note(check)
    if warning:
        bulk = replace(bulk, notes=(*bulk.notes, warning))
    return SpectrumBulk(step, rows, bulk, mean_temperature_K(rows), check)


def spectra(run: RunData) -> list[SpectrumBulk]:
    """R_b of every ``eis`` step with points, in run order."""
    circuit = str(run.options.get("circuit", "auto"))
    found = (measure_step(run, s, circuit) for s in steps_of_kind(run, "eis"))
    return [m for m in found if m is not None]


def drt_table(
    run: RunData, spectra: list[tuple[int, str, Any]], blocking: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """The DRT of each (step, label, impedance rows) and why any was skipped.

    ``blocking``: a blocking cell's spike is no relaxation; only the points up to the end
    of the resolved high-frequency arc are used, and a spectrum without one (its bulk arc
    lies above the measured frequencies) has no DRT to show.
    """
    lam = float(run.options.get("drt_lambda", drt_module.DEFAULT_LAMBDA))
    table: list[dict[str, Any]] = []
    skipped: list[str] = []
    for step, label, rows in spectra:
        f, z = spectrum.clean(
            rows["f"].astype(np.float64), (rows["Zre"] + 1j * rows["Zim"]).astype(np.complex128)
        )
        if blocking:
            fc, zc, _ = spectrum.capacitive(f, z)
            arc = spectrum.find_arc(fc, zc) if fc.size else None
            if arc is None:
                skipped.append(f"{label}: no resolved arc before the blocking spike")
                continue
            f, z = fc[: arc.end + 1], zc[: arc.end + 1]
        try:
            d = drt_module.drt(f, z, lam, capacitor=False if blocking else None)
        except ValueError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        table.append({"step": step, "label": label, **d.as_data()})
    return table, skipped


def spectrum_results(run: RunData, measured: list[SpectrumBulk]) -> dict[str, Result]:
    """The Lin-KK check of every spectrum (``kk_check``: the worst max |residual| as value,
    the residuals per spectrum as data), and with the option ``drt = true`` the DRT of each
    (``drt``; ``drt_lambda`` sets λ)."""
    results: dict[str, Result] = {}
    checked = [m for m in measured if m.kk is not None]
    if checked:
        worst = max(m.kk.max_abs_residual for m in checked if m.kk is not None)
        results["kk_check"] = Result(
            value=worst,
            unit="1",
            data=[
                {"step": m.step.step, "label": m.label, **m.kk.as_data()}
                for m in checked
                if m.kk is not None
            ],
            source={
                "steps": [m.step.step for m in checked],
                "all_valid": all(m.kk.valid for m in checked if m.kk is not None),
                "max_residual_allowed": kk.MAX_RESIDUAL,
                "method": "Lin-KK, Schönleber et al. 2014 (as impedance.py's linKK)",
            },
        )
    if run.options.get("drt"):
        table, skipped = drt_table(
            run, [(m.step.step, m.label, m.rows) for m in measured], blocking=True
        )
        if table:
            results["drt"] = Result(data=table, source={"steps": [r["step"] for r in table]})
        if skipped:
            results["drt_missing_reason"] = Result(value=None, data="; ".join(skipped))
    return results


def analyse_conductivity(run: RunData) -> dict[str, Result]:
    measured = spectra(run)
    if not measured:
        return {}
    m = measured[-1]
    source = {**m.source(), **m.bulk.source()}
    results = {
        "bulk_resistance_ohm": Result(value=m.bulk.ohm, unit="ohm", source=source),
        "eis_fit": Result(data=m.fit_data(), source=m.source()),
        **spectrum_results(run, [m]),
    }
    cell = run.cell
    if cell.thickness_m and cell.area_m2:
        results["conductivity_S_cm"] = Result(
            value=conductivity_S_cm(m.bulk.ohm, cell.thickness_m, cell.area_m2),
            unit="S/cm",
            source={**source, "thickness_m": cell.thickness_m, "area_m2": cell.area_m2},
        )
    return results
