"""Impedance figures as a paper shows them.

``nyquist.png``: four panels: (a) the whole Nyquist plot and (b) a zoom on the
high-frequency part where R_b is read, both on equal axes, each spectrum with its fitted
circuit and R_b marked on the real axis; (c) |Z| and (d) the phase against frequency
(Bode), measured as points and fitted as lines. Spectra are labelled by temperature (or
"before"/"after" the Bruce–Vincent hold). ``kk.png``: the Lin-KK residuals Δ′ and Δ″ against
frequency with the ±5 % band a valid spectrum stays in. ``drt.png``: γ(τ) when a DRT is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cyclerctl.analysis import RunData
from cyclerctl.analysis.run import mean_temperature_K
from cyclerctl.report.plot import FIGSIZE, FIGSIZE_PANELS, pyplot, save
from cyclerctl.store import Result

Results = dict[str, Result]


@dataclass
class Spectrum:
    label: str
    f: np.ndarray[Any, Any]
    Z: np.ndarray[Any, Any]
    fit: dict[str, Any] | None = None  # a CircuitFit.as_data()
    marks: dict[str, float] = field(default_factory=dict)  # name → Z' to mark on the axis


def _source(results: Results, name: str) -> dict[str, Any]:
    r = results.get(name)
    return dict(r.source) if r is not None and isinstance(r.source, dict) else {}


def _value(results: Results, name: str) -> float | None:
    r = results.get(name)
    return None if r is None or r.value is None else float(r.value)


def _rows(data: RunData, step: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    rows = data.impedance[data.impedance["step"] == step]
    if rows.size == 0:
        return None
    rows = rows[np.argsort(rows["seq"], kind="stable")]
    return rows["f"].astype(float), (rows["Zre"] + 1j * rows["Zim"]).astype(complex)


def _label(data: RunData, step: int) -> str:
    T = mean_temperature_K(data.impedance[data.impedance["step"] == step])
    return f"{T - 273.15:.0f} °C" if T is not None else f"step {step}"


def spectra_of(data: RunData, results: Results, kind: Any) -> list[Spectrum]:
    """Every measured spectrum of the run, with its fit and R_b where the analysis stored them."""
    out: list[Spectrum] = []
    if kind == "bruce-vincent":
        for when, r_name, rb_name in (
            ("before", "R0_ohm", "Rb_before_ohm"),
            ("after", "Rs_ohm", "Rb_after_ohm"),
        ):
            src = _source(results, r_name)
            steps = src.get("steps") or []
            got = _rows(data, int(steps[0])) if steps else None
            if got is None:
                continue
            marks = {}
            rb, ri = _value(results, rb_name), _value(results, r_name)
            if rb is not None:
                marks["R_b"] = rb
                if ri is not None:
                    marks["R_b + R_i"] = rb + ri
            out.append(Spectrum(when, *got, fit=src.get("fit"), marks=marks))
        return out
    by_step: dict[int, tuple[dict[str, Any] | None, float | None]] = {}
    fits = results.get("eis_fits")
    if fits is not None and isinstance(fits.data, list):
        for row in fits.data:
            fit = row if row.get("circuit") else None
            by_step[int(row["step"])] = (fit, row.get("bulk_resistance_ohm"))
    one = results.get("eis_fit")
    if one is not None and isinstance(one.data, dict):
        steps = _source(results, "eis_fit").get("steps") or []
        if steps:
            fit = one.data if one.data.get("circuit") else None
            by_step[int(steps[0])] = (fit, _value(results, "bulk_resistance_ohm"))
    for step in np.unique(data.impedance["step"]):
        got = _rows(data, int(step))
        if got is None:
            continue
        fit, rb = by_step.get(int(step), (None, None))
        marks = {"R_b": float(rb)} if rb is not None else {}
        out.append(Spectrum(_label(data, int(step)), *got, fit=fit, marks=marks))
    return out


def _fitted(s: Spectrum, n: int = 300) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    if not s.fit or "parameters" not in s.fit:
        return None
    from cyclerctl.analysis import circuits

    lo, hi = s.fit.get("f_range_Hz") or [float(s.f.min()), float(s.f.max())]
    f = np.logspace(np.log10(lo), np.log10(hi), n)
    return f, circuits.circuit(s.fit["circuit"]).impedance(s.fit["parameters"], f)


def _zoom_limit(spectra: list[Spectrum]) -> float | None:
    """Z′ up to which the zoom shows: 1.4 × the largest mark (R_b, or R_b + R_i at the
    arc's end), else the Z′ of each spectrum's fifth-highest-frequency point × 2."""
    marks = [v for s in spectra for v in s.marks.values() if v > 0]
    if marks:
        return 1.4 * max(marks)
    ends = [2.0 * float(s.Z.real[np.argsort(-s.f)][min(4, s.Z.size - 1)]) for s in spectra]
    return max(ends) if max(ends) > 0 else None


def fig_eis(data: RunData, results: Results, kind: Any, path: Path) -> Path | None:
    spectra = spectra_of(data, results, kind)
    if not spectra:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE_PANELS, layout="constrained")
    (full, zoom), (mod, phase) = axes
    colours = plt.get_cmap("coolwarm" if len(spectra) > 2 else "tab10")
    for i, s in enumerate(spectra):
        c = colours(i / max(1, len(spectra) - 1)) if len(spectra) > 2 else colours(i)
        fitted = _fitted(s)
        rb = s.marks.get("R_b")
        label = s.label + (f" (R_b {rb:.3g} Ω)" if rb is not None else "")
        for ax in (full, zoom):
            ax.plot(s.Z.real, -s.Z.imag, "o", ms=3, color=c, label=label)
            if fitted is not None:
                ax.plot(fitted[1].real, -fitted[1].imag, "-", lw=1, color=c)
        for name, x in s.marks.items():
            zoom.plot([x], [0.0], "|", ms=14, mew=2, color=c)
            if len(spectra) <= 2:  # more names would overlap: the legend gives R_b
                zoom.annotate(
                    f"{name}\n{x:.3g} Ω", (x, 0.0), xytext=(0, -22), textcoords="offset points",
                    ha="center", fontsize="x-small", color=c,
                )  # fmt: skip
        order = np.argsort(s.f)
        mod.loglog(s.f[order], np.abs(s.Z[order]), "o", ms=3, color=c, label=s.label)
        phase.semilogx(
            s.f[order], -np.degrees(np.angle(s.Z[order])), "o", ms=3, color=c, label=s.label
        )
        if fitted is not None:
            mod.loglog(fitted[0], np.abs(fitted[1]), "-", lw=1, color=c)
            phase.semilogx(fitted[0], -np.degrees(np.angle(fitted[1])), "-", lw=1, color=c)
    for ax, title in ((full, "(a) Nyquist"), (zoom, "(b) high-frequency zoom")):
        ax.set_xlabel("Z′ / Ω")
        ax.set_ylabel("−Z″ / Ω")
        ax.set_title(title, fontsize="medium")
        ax.axhline(0.0, color="0.7", lw=0.5)
    _equal(full, spectra, None)
    _equal(zoom, spectra, _zoom_limit(spectra))
    mod.set_xlabel("f / Hz")
    mod.set_ylabel("|Z| / Ω")
    lo, hi = mod.get_ylim()
    if hi < 100 * lo:  # under two decades: plain numbers, not 6×10¹ on minor ticks
        from matplotlib.ticker import ScalarFormatter

        for axis_formatter in (mod.yaxis.set_major_formatter, mod.yaxis.set_minor_formatter):
            plain = ScalarFormatter()
            plain.set_scientific(False)
            axis_formatter(plain)
    mod.set_title("(c) Bode modulus", fontsize="medium")
    phase.set_xlabel("f / Hz")
    phase.set_ylabel("−phase / °")
    phase.set_title("(d) Bode phase", fontsize="medium")
    handles, labels = full.get_legend_handles_labels()
    if any(_fitted(s) is not None for s in spectra):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="k", lw=1))
        labels.append(_fit_label(spectra))
    fig.legend(handles, labels, loc="outside right center", fontsize="small")
    return save(fig, path, tight=False)


def _fit_label(spectra: list[Spectrum]) -> str:
    names = sorted({str(s.fit["circuit"]) for s in spectra if s.fit and "circuit" in s.fit})
    return "fit " + ", ".join(names)


def _equal(ax: Any, spectra: list[Spectrum], x_max: float | None) -> None:
    """Equal scales on both axes over Z′ from the lowest point to ``x_max`` (all: None)."""
    re = np.concatenate([s.Z.real for s in spectra])
    im = np.concatenate([-s.Z.imag for s in spectra])
    x0 = float(min(re.min(), 0.0))
    x1 = float(re.max()) if x_max is None else x_max
    y0 = float(min(im.min(), 0.0))
    if x_max is None:
        span = max(x1 - x0, float(im.max()) - y0, 1e-12) * 1.08
    else:  # the zoom: the same span on −Z″ as on Z′; a rising spike leaves at the top
        span = max(x1 - x0, 1e-12) * 1.08
    pad = 0.04 * span
    ax.set_xlim(x0 - pad, x0 - pad + span)
    low = 0.12 * span if x_max is not None else 0.06 * span  # room for the R_b marks
    ax.set_ylim(y0 - pad - low, y0 - pad + span - low)
    ax.set_aspect("equal", adjustable="box")


def _kk_rows(spectra: list[Spectrum]) -> list[dict[str, Any]]:
    """Lin-KK of spectra no analysis checked (an imported file): computed for the figure."""
    from cyclerctl.analysis.kk import check_or_none

    rows = []
    for s in spectra:
        check = check_or_none(s.f, s.Z)
        if check is not None:
            rows.append({"label": s.label, **check.as_data()})
    return rows


def fig_kk(data: RunData, results: Results, kind: Any, path: Path) -> Path | None:
    """Lin-KK residuals of every spectrum, real and imaginary, against frequency (the
    stored ``kk_check``, else computed here for the run's spectra)."""
    from cyclerctl.analysis.kk import MAX_RESIDUAL

    stored = results.get("kk_check")
    rows = stored.data if stored is not None and isinstance(stored.data, list) else None
    rows = rows or _kk_rows(spectra_of(data, results, kind))
    if not rows:
        return None
    plt = pyplot()
    fig, (ax_re, ax_im) = plt.subplots(2, 1, figsize=FIGSIZE_PANELS, sharex=True)
    n = len(rows)
    cmap = plt.get_cmap("coolwarm" if n > 2 else "tab10")
    for i, row in enumerate(rows):
        c = cmap(i / max(1, n - 1)) if n > 2 else cmap(i)
        f = np.asarray(row["f_Hz"], dtype=float)
        label = f"{row['label']}: M={row['elements']}, max {row['max_abs_residual']:.2%}" + (
            "" if row["valid"] else " (fails)"
        )
        ax_re.semilogx(f, 100 * np.asarray(row["residual_real"]), "o-", ms=3, lw=0.6, color=c,
                       label=label)  # fmt: skip
        ax_im.semilogx(f, 100 * np.asarray(row["residual_imag"]), "s-", ms=3, lw=0.6, color=c)
    for ax, part in ((ax_re, "Δ′ = (Z′ − Z′_KK)/|Z|"), (ax_im, "Δ″ = (Z″ − Z″_KK)/|Z|")):
        ax.axhspan(-100 * MAX_RESIDUAL, 100 * MAX_RESIDUAL, color="tab:green", alpha=0.1)
        ax.axhline(0.0, color="0.5", lw=0.5)
        ax.set_ylabel(f"{part} / %")
    ax_im.set_xlabel("f / Hz")
    ax_re.set_title(
        f"Lin-KK residuals (Schönleber 2014); shaded: ±{MAX_RESIDUAL:.0%}", fontsize="medium"
    )
    ax_re.legend(fontsize="x-small", ncol=2 if n > 4 else 1)
    return save(fig, path)


def fig_drt(results: Results, path: Path) -> Path | None:
    table = results.get("drt")
    if table is None or not isinstance(table.data, list) or not table.data:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for row in table.data:
        ax.semilogx(row["tau_s"], row["gamma_ohm"], lw=1.2,
                    label=f"{row['label']} (R_pol {row['polarisation_ohm']:.3g} Ω)")  # fmt: skip
    lam = table.data[0].get("lambda")
    ax.set_xlabel("τ / s")
    ax.set_ylabel("γ(ln τ) / Ω")
    ax.set_title(f"distribution of relaxation times (Tikhonov, λ = {lam:g})", fontsize="medium")
    ax.legend(fontsize="small")
    return save(fig, path)


def eis_figures(data: RunData, results: Results, kind: Any, out: Path) -> list[Path | None]:
    if data.impedance.size == 0:
        return []
    return [
        fig_eis(data, results, kind, out / "nyquist.png"),
        fig_kk(data, results, kind, out / "kk.png"),
        fig_drt(results, out / "drt.png"),
    ]
