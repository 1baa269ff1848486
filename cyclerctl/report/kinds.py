"""The figure each analysis kind exists for, drawn from the run's data and stored results.

Each ``fig_<kind>(data, results, path)`` returns the PNG written, or None when the run has
nothing to draw (an aborted run, a failed fit): a report never fails for want of a figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cyclerctl.analysis import RunData
from cyclerctl.analysis.run import first_short, step_end_s, step_samples, steps_named
from cyclerctl.report.plot import FIGSIZE, pyplot, save, thin
from cyclerctl.store import Result

Results = dict[str, Result]
Figure = Callable[[RunData, Results, Path], "Path | None"]


def _value(results: Results, name: str) -> float | None:
    r = results.get(name)
    return None if r is None or r.value is None else float(r.value)


def _source(results: Results, name: str) -> dict[str, Any]:
    r = results.get(name)
    return dict(r.source) if r is not None and isinstance(r.source, dict) else {}


def fig_arrhenius(data: RunData, results: Results, path: Path) -> Path | None:
    """ln σ (or ln 1/R_b without a thickness) against 1000/T, the fit line and Ea."""
    from cyclerctl.analysis.arrhenius import fit_arrhenius

    table = results.get("conductivity_vs_temperature")
    if table is None or not isinstance(table.data, list):
        return None
    points = [
        (row["temperature_K"], row["conductivity_S_cm"] or 1.0 / row["bulk_resistance_ohm"])
        for row in table.data
        if row.get("temperature_K") and row.get("bulk_resistance_ohm")
    ]
    if not points:
        return None
    has_sigma = any(row.get("conductivity_S_cm") for row in table.data)
    T = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    form = str(_source(results, "activation_energy_eV").get("form", "sigma"))
    times_T = T if form == "sigma_T" else 1.0
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(1000.0 / T, np.log(y * times_T), "o", label="measured")
    Ea = _value(results, "activation_energy_eV")
    if Ea is not None and np.unique(T).size >= 2:
        fit = fit_arrhenius(T, y, form)
        line_T = np.linspace(T.min(), T.max(), 50)
        err = _value(results, "activation_energy_stderr_eV")
        pm = f" ± {err:.2g}" if err is not None else ""
        kj = _value(results, "activation_energy_kJ_mol")
        kj_text = f" = {kj:.1f} kJ/mol" if kj is not None else ""
        a = math.exp(fit.ln_prefactor)
        prefactor = results.get("arrhenius_prefactor")
        a_unit = f" {prefactor.unit}" if prefactor is not None and prefactor.unit else ""
        ax.plot(
            1000.0 / line_T,
            [math.log(fit.at(t) * (t if form == "sigma_T" else 1.0)) for t in line_T],
            "k-",
            label=f"fit: Ea = {Ea:.3f}{pm} eV{kj_text}\nA = {a:.3g}{a_unit}, R² {fit.r2:.4f}",
        )
    ax.set_xlabel("1000 / T / K⁻¹")
    quantity = "σ / S cm⁻¹" if has_sigma else "1/R_b / Ω⁻¹"
    if form == "sigma_T":
        quantity = "σT / S cm⁻¹ K" if has_sigma else "T/R_b / Ω⁻¹ K"
    ax.set_ylabel(f"ln({quantity})")
    top = ax.secondary_xaxis("top", functions=(_to_celsius, _from_celsius))
    top.set_xlabel("T / °C")
    ax.legend()
    ax.set_title("Arrhenius plot")
    return save(fig, path)


def _to_celsius(x: Any) -> Any:
    """1000/T (K⁻¹) → T (°C), for the secondary axis."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1000.0 / x - 273.15


def _from_celsius(c: Any) -> Any:
    c = np.asarray(c, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1000.0 / (c + 273.15)


def fig_li_cu_ce(data: RunData, results: Results, path: Path) -> Path | None:
    """The whole test V(t), the reservoir (Qt), cycle (Qc) and final strip (Qs) shaded."""
    s = data.samples
    if s.size == 0:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    view = thin(s)
    ax.plot(view["t"] / 3600.0, view["V"], color="tab:blue", lw=1, label="V")
    marks = (
        ("reservoir plate", "tab:orange", "Qt"),
        ("cycle plate", "tab:green", "Qc"),
        ("final strip", "tab:red", "Qs"),
        ("conditioning plate", "tab:gray", "conditioning"),
    )
    for name, colour, label in marks:
        for i, step in enumerate(steps_named(data, name)):
            end = step_end_s(data, step)
            q = step.discharge_Ah if "plate" in name else step.charge_Ah
            ax.axvspan(
                step.t_start / 3600.0,
                end / 3600.0,
                color=colour,
                alpha=0.2,
                label=f"{label}" if i == 0 else None,
            )
            if label != "Qc" or i == 0:
                ax.annotate(
                    f"{label} {q * 1e3:.3f} mAh",
                    ((step.t_start + end) / 7200.0, float(np.nanmax(view["V"]))),
                    ha="center",
                    va="top",
                    fontsize="small",
                    rotation=90,
                )
    ce = _value(results, "ce_avg")
    title = "Li‖Cu Coulombic efficiency test"
    ax.set_title(f"{title}: CE avg {ce * 100:.2f} %" if ce is not None else title)
    ax.set_xlabel("time / h")
    ax.set_ylabel("voltage / V")
    ax.legend(loc="lower right", fontsize="small")
    return save(fig, path)


def fig_li_cu_cycles(data: RunData, results: Results, path: Path) -> Path | None:
    """Per cycle of the n: the strip/plate charge ratio and the two overpotentials."""
    table = results.get("li_cu_cycles")
    if table is None or not isinstance(table.data, list) or not table.data:
        return None
    rows = table.data

    def col(key: str) -> list[float]:
        return [math.nan if r.get(key) is None else float(r[key]) for r in rows]

    n = [r["cycle"] for r in rows]
    plt = pyplot()
    fig, (ax_ratio, ax_eta) = plt.subplots(2, 1, figsize=FIGSIZE, sharex=True)
    ratio = [100 * x for x in col("strip_plate_ratio")]
    ax_ratio.plot(n, ratio, "o-", color="tab:purple")
    ax_ratio.set_ylabel("strip / plate / %")
    finite = [x for x in ratio if math.isfinite(x)]
    if finite:  # a capacity-limited strip gives 100 % every cycle: do not magnify noise
        ax_ratio.set_ylim(min(90.0, min(finite) - 1.0), max(102.0, max(finite) + 1.0))
    ce = _value(results, "ce_avg")
    cond = _value(results, "conditioning_ce")
    bits = [f"CE avg {ce * 100:.2f} %" if ce is not None else "",
            f"conditioning CE {cond * 100:.2f} %" if cond is not None else ""]  # fmt: skip
    ax_ratio.set_title("Li‖Cu cycles: " + ", ".join(b for b in bits if b), fontsize="medium")
    ax_eta.plot(n, col("strip_overpotential_mV"), "o-", label="strip")
    ax_eta.plot(n, col("plate_overpotential_mV"), "s-", label="plate")
    ax_eta.set_xlabel("cycle")
    ax_eta.set_ylabel("overpotential\n(median |V|) / mV")
    ax_eta.set_ylim(bottom=0.0, top=1.3 * max([x for x in col("strip_overpotential_mV")
                                               + col("plate_overpotential_mV")
                                               if math.isfinite(x)] or [1.0]))  # fmt: skip
    ax_eta.legend(fontsize="small", loc="lower right")
    return save(fig, path)


def fig_ccd(data: RunData, results: Results, path: Path) -> Path | None:
    """The ramp V(t) with j(t); the short marked and the CCD written on it."""
    s = data.samples
    if s.size == 0:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    view = thin(s)
    t_h = view["t"] / 3600.0
    ax.plot(t_h, view["V"], color="tab:blue", lw=1)
    ax.set_xlabel("time / h")
    ax.set_ylabel("voltage / V", color="tab:blue")
    area_cm2 = data.cell.area_m2 * 1e4
    if area_cm2 > 0:
        ax2 = ax.twinx()
        ax2.plot(t_h, view["I"] * 1e3 / area_cm2, color="tab:red", lw=0.8, alpha=0.6)
        ax2.set_ylabel("j / mA cm⁻²", color="tab:red")
    short = first_short(data)
    ccd = _value(results, "ccd_mA_cm2")
    if short is not None:
        at = step_end_s(data, short) / 3600.0
        ax.axvline(at, color="k", ls="--")
        text = f"short at {at:.2f} h" + (f"\nCCD = {ccd:.3g} mA cm⁻²" if ccd is not None else "")
        ax.annotate(
            text,
            (at, 0.9),
            xycoords=("data", "axes fraction"),
            ha="right",
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.9},
            zorder=5,
        )
    passed = _value(results, "last_passed_mA_cm2")
    if short is not None and passed is not None:
        ax.annotate(
            f"last passed {passed:.3g} mA cm⁻²",
            (0.02, 0.04),
            xycoords="axes fraction",
            fontsize="small",
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.9},
        )
    best = _value(results, "max_current_density_without_short_mA_cm2")
    if short is None and best is not None:
        ax.set_title(f"CCD ramp: no short up to {best:.3g} mA cm⁻²")
    else:
        ax.set_title("CCD ramp" + (f": CCD {ccd:.3g} mA cm⁻²" if ccd is not None else ""))
    return save(fig, path)


def fig_li_li(data: RunData, results: Results, path: Path) -> Path | None:
    """Overpotential of strip and plate half cycles against cycle."""
    table = results.get("overpotential_by_cycle")
    if table is None or not isinstance(table.data, list) or not table.data:
        return None
    rows = sorted(table.data, key=lambda r: r["cycle"])
    n = [r["cycle"] for r in rows]

    def col(key: str) -> list[float]:
        return [math.nan if r.get(key) is None else r[key] for r in rows]

    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(n, col("strip_mV"), "o-", label="strip")
    ax.plot(n, col("plate_mV"), "s-", label="plate")
    ax.plot(n, col("mean_mV"), "k:", label="mean")
    short = _value(results, "short_at_h")
    if short is not None:
        ax.set_title(f"Li‖Li overpotential (shorted at {short:.2f} h)")
    else:
        ax.set_title("Li‖Li overpotential")
    ax.set_xlabel("cycle")
    ax.set_ylabel("overpotential (median |V|) / mV")
    ax.legend()
    return save(fig, path)


def fig_nucleation(data: RunData, results: Results, path: Path) -> Path | None:
    """The plate step's V(t) with the nucleation dip and the plateau window marked."""
    plates = steps_named(data, "plate")
    if not plates:
        return None
    rows = step_samples(data, plates[0])
    if rows.size < 2:
        return None
    t = rows["t"] - rows["t"][0]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(t, rows["V"] * 1e3, lw=1, label="plate")
    src = _source(results, "nucleation_overpotential_mV")
    if "dip_V" in src:
        nuc = _value(results, "nucleation_overpotential_mV") or 0.0
        plateau = _value(results, "plateau_overpotential_mV") or 0.0
        ax.plot(
            [src["dip_after_s"]], [src["dip_V"] * 1e3], "rv", ms=9, label=f"dip: η_n {nuc:.1f} mV"
        )
        lo, hi = src.get("plateau_window", (0.2, 0.6))
        span = float(t[-1])
        ax.axvspan(lo * span, hi * span, color="tab:green", alpha=0.15)
        ax.axhline(
            src["plateau_V"] * 1e3,
            color="tab:green",
            ls="--",
            label=f"plateau {plateau:.1f} mV (includes the IR drop)",
        )
        corrected = _value(results, "plateau_overpotential_ir_corrected_mV")
        ir = _source(results, "plateau_overpotential_ir_corrected_mV")
        if corrected is not None:
            sign = -1.0 if src["plateau_V"] < 0 else 1.0
            ax.axhline(
                sign * corrected,
                color="tab:olive",
                ls=":",
                label=f"IR-corrected {corrected:.1f} mV "
                f"(R = {ir.get('series_resistance_ohm', math.nan):.3g} Ω)",
            )
        # zoom on the transient: the open-circuit first point would flatten it
        dip_mV, plateau_mV = src["dip_V"] * 1e3, src["plateau_V"] * 1e3
        pad = 0.5 * max(abs(dip_mV), abs(plateau_mV), 1.0)
        ax.set_ylim(min(dip_mV, plateau_mV) - pad, max(dip_mV, plateau_mV, 0.0) + pad)
        # the dip lasts seconds of an hours-long step: an inset shows its shape
        t_end = max(20.0 * float(src["dip_after_s"]), 0.03 * span)
        if t_end < 0.5 * span:
            inset = ax.inset_axes((0.55, 0.08, 0.42, 0.38))
            early = t <= t_end
            inset.plot(t[early], rows["V"][early] * 1e3, lw=1)
            inset.plot([src["dip_after_s"]], [dip_mV], "rv", ms=7)
            inset.axhline(plateau_mV, color="tab:green", ls="--", lw=0.8)
            inset.set_ylim(*ax.get_ylim())
            inset.set_xlabel("s", fontsize="x-small", labelpad=1)
            inset.tick_params(labelsize="x-small")
            inset.set_title(f"first {t_end:.0f} s", fontsize="x-small")
    ax.set_xlabel("time in the plate step / s")
    ax.set_ylabel("voltage / mV")
    ax.legend()
    ax.set_title("Li nucleation on Cu")
    return save(fig, path)


def fig_bruce_vincent_hold(data: RunData, results: Results, path: Path) -> Path | None:
    """I(t) of the polarisation hold with I0 and Is marked."""
    holds = steps_named(data, "polarization")
    if not holds:
        return None
    rows = step_samples(data, holds[0])
    if rows.size < 2:
        return None
    t = rows["t"] - holds[0].t_start
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(t / 60.0, np.abs(rows["I"]) * 1e6, lw=1, label="|I|")
    I0, Is = _value(results, "I0_A"), _value(results, "Is_A")
    if I0 is not None:
        ax.plot([0.0], [I0 * 1e6], "ro", label=f"I0 = {I0 * 1e6:.3g} µA")
    expected = _value(results, "I0_expected_A")
    if expected is not None:
        ax.plot([0.0], [expected * 1e6], "kx", ms=9,
                label=f"ΔV/(R_b + R0) = {expected * 1e6:.3g} µA")  # fmt: skip
    if Is is not None:
        ax.axhline(Is * 1e6, color="tab:green", ls="--", label=f"Is = {Is * 1e6:.3g} µA")
    t_plus = _value(results, "transference_number")
    title = "Bruce–Vincent polarisation"
    flags = _source(results, "transference_number").get("flags") or []
    if t_plus is not None:
        title = f"{title}: t+ = {t_plus:.3f}" + (" (flagged, see results)" if flags else "")
    missing = results.get("transference_number_missing_reason")
    if missing is not None:
        title += ": t+ withheld (fit gate)"
    ax.set_title(title)
    ax.set_xlabel("time in the hold / min")
    ax.set_ylabel("|I| / µA")
    ax.legend()
    return save(fig, path)


def fig_lsv(data: RunData, results: Results, path: Path) -> Path | None:
    """Current density against potential of the sweep, with the oxidation onset."""
    sweeps = [s for s in data.steps if s.kind == "sweep"]
    area_cm2 = data.cell.area_m2 * 1e4
    if not sweeps or area_cm2 <= 0:
        return None
    rows = step_samples(data, sweeps[0])
    if rows.size == 0:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(rows["V"], rows["I"] * 1e6 / area_cm2, lw=1, label="sweep")
    onset = _value(results, "oxidation_onset_V")
    if onset is not None:
        ax.axvline(onset, color="tab:red", ls="--", label=f"onset {onset:.3f} V")
    threshold = _source(results, "oxidation_onset_V").get("threshold_A_m2")
    if threshold is not None:
        ax.axhline(float(threshold) * 100.0, color="gray", ls=":", label="threshold")
    ax.set_xlabel("potential / V")
    ax.set_ylabel("j / µA cm⁻²")
    ax.legend()
    ax.set_title("linear sweep voltammetry")
    return save(fig, path)


def fig_rate(data: RunData, results: Results, path: Path) -> Path | None:
    """Discharge capacity against cycle, coloured by C-rate."""
    from cyclerctl.analysis.rate import group_discharges

    table = results.get("rate_capability")
    if table is None or not isinstance(table.data, list):
        return None
    capacity = _source(results, "rate_capability").get("capacity_Ah_for_1C")
    rates = sorted({float(row["rate_C"]) for row in table.data})
    if not capacity or not rates:
        return None
    groups = group_discharges(data, float(capacity), rates)
    mass_g = data.cell.active_mass_kg * 1e3 if data.cell.active_mass_kg else None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    cmap = plt.get_cmap("viridis")
    colour = {r: cmap(i / max(1, len(rates) - 1)) for i, r in enumerate(rates)}
    seen: set[float] = set()
    for g in groups:
        y = [q * 1e3 / mass_g if mass_g else q * 1e3 for q in g.discharge_Ah]
        label = None if g.rate_C in seen else f"{g.rate_C:g}C"
        seen.add(g.rate_C)
        ax.plot(g.cycles, y, "o", color=colour.get(g.rate_C, "k"), label=label)
    ax.set_xlabel("cycle")
    ax.set_ylabel("discharge capacity / " + ("mAh g⁻¹" if mass_g else "mAh"))
    ax.legend(title="rate")
    ax.set_title("rate capability")
    return save(fig, path)


#: analysis kind → (file name, figure); the EIS figures of every kind are :mod:`.eis`'s.
KIND_FIGURES: dict[str, list[tuple[str, Figure]]] = {
    "arrhenius": [("arrhenius.png", fig_arrhenius)],
    "li-cu-ce": [("ce_trace.png", fig_li_cu_ce), ("li_cu_cycles.png", fig_li_cu_cycles)],
    "ccd": [("ccd.png", fig_ccd)],
    "li-li-cycling": [("overpotential.png", fig_li_li)],
    "nucleation": [("nucleation.png", fig_nucleation)],
    "bruce-vincent": [("polarization.png", fig_bruce_vincent_hold)],
    "lsv-onset": [("lsv.png", fig_lsv)],
    "rate-capability": [("rate.png", fig_rate)],
}


def kind_figures(kind: Any, data: RunData, results: Results, out: Path) -> list[Path | None]:
    """The figures for analysis ``kind`` written into ``out`` (None where nothing to draw)."""
    made: list[Path | None] = []
    for name, figure in KIND_FIGURES.get(str(kind), []):
        made.append(figure(data, results, out / name))
    return made
