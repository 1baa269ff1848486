"""`cyclerctl report RUN -o DIR`: PNG figures chosen by the run's analysis kind, and an
index.html showing them with the results table. matplotlib with the Agg backend (no display).

Every run gets V(t)/I(t) (decimated to ≤ 20 000 points so a long run plots quickly);
cycling kinds get capacity and CE vs cycle, the voltage profiles and dQ/dV, dV/dQ of a few
chosen cycles (:mod:`.cycles`; the curves also as dqdv.csv) and the per-cycle table;
impedance runs get the Nyquist plot (whole and high-frequency zoom on equal axes, fits
overlaid, R_b marked, spectra labelled by temperature or before/after) with its Bode panels,
the Lin-KK residuals and the DRT when stored (:mod:`.eis`); and each
analysis kind gets the figure it exists for (:mod:`.kinds`): Arrhenius, the Li‖Cu CE trace,
the CCD ramp, Li‖Li overpotential, nucleation, Bruce–Vincent, LSV, rate capability.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from cyclerctl.analysis import RunData
from cyclerctl.reanalysis import run_data
from cyclerctl.report.cycles import cycle_figures, cycle_table_html
from cyclerctl.report.eis import eis_figures
from cyclerctl.report.kinds import KIND_FIGURES, kind_figures
from cyclerctl.report.plot import FIGSIZE, MAX_POINTS, pyplot, save, thin
from cyclerctl.store import Store

__all__ = ["KIND_FIGURES", "MAX_POINTS", "write_report"]

CYCLING_KINDS = ("cycling", "rate-capability", "li-li-cycling")


def fig_vi(data: RunData, path: Path) -> Path | None:
    s = data.samples
    if s.size == 0:
        return None
    s = thin(s)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    t_h = s["t"] / 3600.0
    ax.plot(t_h, s["V"], color="tab:blue", lw=1)
    ax.set_xlabel("time / h")
    ax.set_ylabel("voltage / V", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(t_h, s["I"] * 1e3, color="tab:red", lw=1)
    ax2.set_ylabel("current / mA", color="tab:red")
    ax.set_title("V(t) and I(t)")
    return save(fig, path)


def _results_table(results: dict[str, Any]) -> str:
    rows = []
    for name, r in sorted(results.items()):
        value = "" if r.value is None else f"{r.value:.6g}"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{value}</td>"
            f"<td>{html.escape(r.unit or '')}</td></tr>"
        )
    return "<table><tr><th>result</th><th>value</th><th>unit</th></tr>" + "".join(rows) + "</table>"


def _cycles_html(results: dict[str, Any]) -> str:
    table = results.get("cycles")
    rows = table.data if table is not None else None
    if not isinstance(rows, list) or not rows or "coulombic_efficiency" not in rows[0]:
        return ""
    meta = results.get("cycles_metadata")
    note = ""
    if meta is not None and isinstance(meta.data, dict):
        d = meta.data
        note = html.escape(
            f"{d.get('working_electrode')} half cell: charge = {d.get('charge')}; "
            f"discharge = {d.get('discharge')}; reference cycle {d.get('reference_cycle')}"
        )
    return cycle_table_html(rows) + (f"<p>{note}</p>" if note else "")


#: Result tables shown in index.html beside the figures (scalar columns only).
HTML_TABLES = ("li_cu_cycles", "rate_capability", "conductivity_vs_temperature")


def _data_tables(results: dict[str, Any]) -> str:
    out = []
    for name in HTML_TABLES:
        r = results.get(name)
        rows = r.data if r is not None else None
        if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
            continue
        cols = [k for k, v in rows[0].items() if not isinstance(v, dict | list)]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in cols) + "</tr>"
            for row in rows
        )
        out.append(f"<h2>{html.escape(name)}</h2><table><tr>{head}</tr>{body}</table>")
    return "".join(out)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def write_report(store: Store, run_id: int, out_dir: str | Path) -> Path:
    """Figures and index.html for run ``run_id`` in ``out_dir``; the index.html path."""
    run = store.get_run(run_id)
    if run is None:
        raise KeyError(f"no run {run_id}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = run_data(store, run_id)
    results = store.results(run_id)
    kind = run.analysis.get("kind")
    figures = [fig_vi(data, out / "vi.png")]
    if kind in CYCLING_KINDS or run.protocol_name.startswith("import:"):
        figures += cycle_figures(data, out, differential=kind != "li-li-cycling")
    figures += eis_figures(data, results, kind, out)
    figures += kind_figures(kind, data, results, out)
    shown = [p for p in figures if p is not None]
    imgs = "".join(f'<figure><img src="{p.name}" alt="{p.stem}"></figure>' for p in shown)
    title = html.escape(f"run {run.id}: {run.protocol_name} on {run.cell_name}")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>status {html.escape(run.status)}"
        f" ({html.escape(run.end_reason or '')}), analysis {html.escape(str(kind))}</p>"
        f"{_results_table(results)}{_cycles_html(results)}{_data_tables(results)}{imgs}"
        "</body></html>"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
