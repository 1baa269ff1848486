"""Per-cycle figures of a cycling run, as a paper shows them.

- ``capacity.png``: discharge and charge capacity vs cycle (per gram of active material
  when the cell gives a mass) above the Coulombic efficiency, formation cycles shaded and
  the 80 % retention level of the reference cycle marked;
- ``profiles.png``: voltage vs capacity passed in each half cycle of a few chosen cycles
  (charge solid, discharge dashed, one colour per cycle);
- ``dqdv.png``: dQ/dV vs V (discharge drawn negative, as is usual) and dV/dQ vs capacity
  of the same cycles, the binning stated on the figure; the curves also go to
  ``dqdv.csv`` beside it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from cyclerctl.analysis import RunData
from cyclerctl.analysis.cycling import COLUMNS, cycle_rows
from cyclerctl.analysis.dqdv import Curve, differential_capacity
from cyclerctl.report.plot import FIGSIZE, pyplot, save

MAX_CHOSEN = 4


def chosen_cycles(rows: list[dict[str, Any]], reference: int | None) -> list[int]:
    """First, reference (first after formation), middle and last cycle, at most four."""
    cycles = [int(r["cycle"]) for r in rows]
    if not cycles:
        return []
    picks = [cycles[0], reference or cycles[0], cycles[len(cycles) // 2], cycles[-1]]
    return sorted({c for c in picks if c in cycles})[:MAX_CHOSEN]


def _capacity_axis(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """(column suffix, axis label) — specific capacity when the table has it."""
    if rows and rows[0]["discharge_capacity_mAh_g"] is not None:
        return "_mAh_g", "specific capacity / mAh g$^{-1}$"
    return "_mAh", "capacity / mAh"


def fig_capacity(rows: list[dict[str, Any]], meta: dict[str, Any], path: Path) -> Path | None:
    if not rows:
        return None
    suffix, label = _capacity_axis(rows)
    n = np.array([r["cycle"] for r in rows])
    q_out = np.array([r[f"discharge_capacity{suffix}"] for r in rows], dtype=float)
    q_in = np.array([r[f"charge_capacity{suffix}"] for r in rows], dtype=float)
    ce = np.array([np.nan if r["coulombic_efficiency"] is None else r["coulombic_efficiency"]
                   for r in rows], dtype=float)  # fmt: skip
    plt = pyplot()
    fig, (ax, ax_ce) = plt.subplots(
        2, 1, figsize=FIGSIZE, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    # many cycles: markers only, lines between 500 points hide them
    marker = dict(ms=5, ls="-") if n.size <= 60 else dict(ms=3, ls="none")
    ax.plot(n, q_out, "o", color="tab:blue", lw=1, label="discharge", **marker)
    ax.plot(n, q_in, "o", color="tab:red", lw=1, mfc="white", label="charge", **marker)
    formation = meta["formation_cycles"]
    for a in (ax, ax_ce):
        if formation:
            a.axvspan(min(formation) - 0.5, max(formation) + 0.5, color="0.92", lw=0)
    reference = meta["reference_cycle"]
    ref_rows = [r for r in rows if r["cycle"] == reference]
    if ref_rows:
        level = 0.8 * ref_rows[0][f"discharge_capacity{suffix}"]
        ax.axhline(level, color="0.5", ls=":", lw=1, label=f"80 % of cycle {reference}")
    ax.set_ylabel(label)
    top = float(np.nanmax(np.concatenate([q_in, q_out])))
    ax.set_ylim(0, top * 1.1)
    ax.legend(loc="lower left", fontsize="small", ncols=3)
    role = meta["working_electrode"]
    ax.set_title(
        f"capacity and Coulombic efficiency ({role} half cell; "
        f"{'formation shaded' if formation else 'no formation cycles'})",
        fontsize="medium",
    )
    ax_ce.plot(n, 100 * ce, "s", color="tab:green", lw=1, **marker)
    ax_ce.axhline(100, color="0.5", lw=0.8)
    finite = ce[np.isfinite(ce)]
    if finite.size:
        lo, hi = float(np.min(finite)) * 100, float(np.max(finite)) * 100
        pad = max(0.2, 0.1 * (max(hi, 100.0) - lo))
        ax_ce.set_ylim(lo - pad, max(hi, 100.0) + pad)
    ax_ce.set_ylabel("CE / %")
    ax_ce.set_xlabel("cycle")
    ax_ce.xaxis.get_major_locator().set_params(integer=True)
    return save(fig, path)


def _curves(data: RunData, cycles: list[int]) -> list[Curve]:
    try:
        return differential_capacity(data, cycles)
    except ValueError:
        return []


def _label(cycle: int, formation: list[int]) -> str:
    return f"cycle {cycle}" + (" (formation)" if cycle in formation else "")


def fig_profiles(
    data: RunData, path: Path, curves: list[Curve], formation: list[int]
) -> Path | None:
    if not curves:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    colours = _colours(curves)
    for c in curves:
        style = "-" if c.half == "charge" else "--"
        label = _label(c.cycle, formation) if c.half == "charge" else None
        ax.plot(c.capacity, c.V, style, color=colours[c.cycle], lw=1.2, label=label)
    unit = curves[0].capacity_unit
    ax.set_xlabel("specific capacity / mAh g$^{-1}$" if unit == "mAh/g" else "capacity / mAh")
    ax.set_ylabel("voltage / V")
    ax.set_xlim(left=0)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, fontsize="small", title="solid: charge, dashed: discharge",
              title_fontsize="small")  # fmt: skip
    ax.set_title("voltage profiles of chosen cycles", fontsize="medium")
    return save(fig, path)


def _colours(curves: list[Curve]) -> dict[int, Any]:
    plt = pyplot()
    cycles = sorted({c.cycle for c in curves})
    cmap = plt.get_cmap("viridis")
    return {c: cmap(i / max(1, len(cycles) - 1) * 0.9) for i, c in enumerate(cycles)}


def fig_dqdv(data: RunData, path: Path, curves: list[Curve], formation: list[int]) -> Path | None:
    if not curves:
        return None
    plt = pyplot()
    fig, (ax, ax_dv) = plt.subplots(1, 2, figsize=FIGSIZE)
    colours = _colours(curves)
    for c in curves:
        sign = 1.0 if c.half == "charge" else -1.0
        label = _label(c.cycle, formation) if c.half == "charge" else None
        ax.plot(c.dqdv_V, sign * c.dqdv, "-", color=colours[c.cycle], lw=1, label=label)
        keep = np.isfinite(c.dvdq)
        style = "-" if c.half == "charge" else "--"
        ax_dv.plot(c.dvdq_capacity[keep], c.dvdq[keep], style, color=colours[c.cycle], lw=1)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel("voltage / V")
    ax.set_ylabel(f"dQ/dV / {_tex(curves[0].dqdv_unit)}")
    ax.legend(fontsize="small")
    ax.set_title("dQ/dV (charge > 0, discharge < 0)", fontsize="medium")
    unit = curves[0].capacity_unit
    ax_dv.set_xlabel("specific capacity / mAh g$^{-1}$" if unit == "mAh/g" else "capacity / mAh")
    ax_dv.set_ylabel(f"dV/dQ / {_tex(curves[0].dvdq_unit)}")
    ax_dv.set_title("dV/dQ (solid: charge, dashed: discharge)", fontsize="medium")
    # the ends of each half cycle (IR step, CV cut) dwarf the body: scale to the body
    bodies = [np.abs(c.dvdq[5:-5]) for c in curves if c.dvdq.size > 10]
    if bodies:
        limit = float(np.nanpercentile(np.concatenate(bodies), 98)) * 1.5
        if np.isfinite(limit) and limit > 0:
            ax_dv.set_ylim(-limit, limit)
    ax_dv.axhline(0, color="0.5", lw=0.6)
    fig.text(0.01, 0.01, curves[0].method, fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return save(fig, path)


def _tex(unit: str) -> str:
    return unit.replace("-1", "$^{-1}$")


def cycle_figures(data: RunData, out: Path, *, differential: bool = True) -> list[Path | None]:
    """capacity.png, profiles.png and (with ``differential``) dqdv.png and dqdv.csv.

    A symmetric Li‖Li cell has no electrode whose dQ/dV means anything: its report asks
    for ``differential=False``.
    """
    from cyclerctl.export.cycles import write_differential_capacity

    rows, meta = cycle_rows(data)
    curves = _curves(data, chosen_cycles(rows, meta["reference_cycle"]))
    if curves and differential:
        write_differential_capacity(curves, out / "dqdv.csv")
    return [
        fig_capacity(rows, meta, out / "capacity.png"),
        fig_profiles(data, out / "profiles.png", curves, meta["formation_cycles"]),
        fig_dqdv(data, out / "dqdv.png", curves, meta["formation_cycles"])
        if differential
        else None,
    ]


def cycle_table_html(rows: list[dict[str, Any]], head: int = 10, tail: int = 3) -> str:
    """The per-cycle table as HTML: its first and last rows when it is long."""
    if not rows:
        return ""
    shown = rows if len(rows) <= head + tail else [*rows[:head], None, *rows[-tail:]]
    cells = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in shown:
        if r is None:
            body.append(f"<tr><td colspan='{len(COLUMNS)}'>…</td></tr>")
            continue
        body.append("<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in COLUMNS) + "</tr>")
    return f"<h2>per cycle</h2><table><tr>{cells}</tr>{''.join(body)}</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.5g}"
    return html.escape(str(value))
