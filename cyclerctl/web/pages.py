"""The HTML of each page, rendered on the server: the page is readable before (and
without) any script; app.js then keeps it live and draws the plots."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

from cyclerctl.store import TERMINAL_STATUSES, EventRecord
from cyclerctl.tui.data import ChannelRow, safety_reason
from cyclerctl.tui.format import duration, milliamp_hours, milliamps, volts
from cyclerctl.web.data import HistoryPage, HistoryQuery, RunPage

#: the overview's columns: (key in the JSON row, heading)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("channel", "Channel"),
    ("state", "State"),
    ("run_id", "Run"),
    ("protocol", "Protocol"),
    ("cell", "Cell"),
    ("step", "Step/cycle"),
    ("V", "V / V"),
    ("I", "I / mA"),
    ("capacity_Ah", "Q / mAh"),
    ("eta_s", "ETA"),
    ("queued", "Queue"),
)
STATES = (
    "running",
    "paused",
    "queued",
    "idle",
    "done",
    "safety stop",
    "failed",
    "interrupted",
    "offline",
)
EXPORTS = (("csv", "CSV (BDF)"), ("parquet", "Parquet"), ("mpt", "EC-Lab .mpt"))
CYCLE_EXPORTS = (("cycles-csv", "cycle table CSV"), ("cycles-parquet", "cycle table Parquet"))


def _h(value: object) -> str:
    return escape("" if value is None else str(value))


def layout(title: str, body: str, *, page: str, scripts: Sequence[str] = ()) -> str:
    nav = "".join(
        f'<a href="{href}"{" class=here" if name == page else ""}>{label}</a>'
        for name, href, label in (("overview", "/", "Lab"), ("history", "/history", "History"))
    )
    tags = "".join(f'<script src="/static/{_h(s)}" defer></script>' for s in scripts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)} · cyclerctl</title>"
        f'<link rel=icon href="data:,"><link rel=stylesheet href="/static/app.css">{tags}</head>'
        f'<body data-page="{page}"><header><strong>cyclerctl</strong><nav>{nav}</nav>'
        '<span id=live class=live title="live updates">read-only</span></header>'
        f"<main>{body}</main></body></html>"
    )


# -- overview --------------------------------------------------------------------------------


def cell_text(row: ChannelRow, key: str) -> str:
    """What the overview shows in one cell (app.js formats the live updates the same way)."""
    if key == "state":
        return f"{row.state} ({row.alarm})" if row.alarm else row.state
    if key == "run_id":
        return "" if row.run_id is None else str(row.run_id)
    if key == "step":
        if row.step is None:
            return ""
        name = f" {row.step_name}" if row.step_name else ""
        cycle = "" if row.cycle is None else f" / {row.cycle}"
        return f"{row.step}{name}{cycle}"
    if key == "V":
        return volts(row.V) if row.V is not None else ""
    if key == "I":
        return milliamps(row.I) if row.I is not None else ""
    if key == "capacity_Ah":
        return milliamp_hours(row.capacity_Ah) if row.capacity_Ah is not None else ""
    if key == "eta_s":
        return duration(row.eta_s) if row.eta_s is not None else ""
    if key == "queued":
        return str(row.queued) if row.queued else ""
    return _h(getattr(row, key))


def overview_row(row: ChannelRow) -> str:
    cells = []
    for key, _ in COLUMNS:
        text = _h(cell_text(row, key))
        if (key == "run_id" and row.run_id is not None) or (
            key == "channel" and row.run_id is not None
        ):
            text = f'<a href="/runs/{row.run_id}">{text}</a>'
        cells.append(f'<td data-col="{key}">{text}</td>')
    state = row.state.replace(" ", "-")
    return (
        f'<tr id="ch-{_h(row.channel)}" data-channel="{_h(row.channel)}" '
        f'data-state="{_h(row.state)}" class="state-{state}">{"".join(cells)}</tr>'
    )


def overview_page(rows: Sequence[ChannelRow], state: str, text: str) -> str:
    options = "".join(
        f'<option value="{s}"{" selected" if s == state else ""}>{s}</option>' for s in STATES
    )
    heads = "".join(f'<th data-col="{k}">{label}</th>' for k, label in COLUMNS)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    summary = " · ".join(
        f'<span class="state-{s.replace(" ", "-")}">{n} {s}</span>'
        for s, n in sorted(counts.items())
    )
    shown = [r for r in rows if _matches(r, state, text)]
    body = (
        '<h1>Lab overview</h1><form id=filters class=filters method=get action="/">'
        f'<label>state <select name=state><option value="">all</option>{options}</select></label>'
        f'<label>search <input name=q value="{_h(text)}" placeholder="channel, protocol, cell,'
        ' operator"></label><noscript><button>filter</button></noscript></form>'
        f"<p class=summary id=summary>{summary or 'no channels'}</p>"
        f"<div class=scroll><table id=overview class=channels><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(overview_row(r) for r in shown)}</tbody></table></div>"
    )
    return layout("Lab", body, page="overview", scripts=("app.js",))


def _matches(row: ChannelRow, state: str, text: str) -> bool:
    if state and row.state != state:
        return False
    needle = text.strip().lower()
    if not needle:
        return True
    hay = " ".join(str(v) for v in (row.channel, row.protocol, row.cell, row.operator) if v)
    return needle in hay.lower()


# -- one run ---------------------------------------------------------------------------------


def _table(heads: Iterable[str], rows: Iterable[Iterable[str]], *, cls: str = "") -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    table = f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f"<div class=scroll>{table}</div>"


def _event_rows(events: Sequence[EventRecord]) -> str:
    lines = []
    for e in events:
        safety = e.kind == "safety" or e.severity in ("error", "alarm", "critical")
        mark = "⚠ " if e.kind == "safety" else ""
        cls = (
            ' class="event-safety"'
            if e.kind == "safety"
            else (" class=event-bad" if safety else "")
        )
        when = "" if e.t is None else duration(e.t)
        lines.append(
            f"<tr{cls}><td>{_h(when)}</td><td>{_h(e.at.strftime('%Y-%m-%d %H:%M:%S'))}</td>"
            f"<td>{mark}{_h(e.kind)}</td><td>{_h(e.severity)}</td><td>{_h(e.message)}</td></tr>"
        )
    return "".join(lines)


def run_page(page: RunPage) -> str:
    detail = page.detail
    run = detail.run
    banner = ""
    if run.status == "safety_stop":
        reason = detail.alarm or safety_reason(detail.events, run.end_reason)
        banner = (
            f"<div class=safety-banner role=alert id=safety>⚠ SAFETY STOP: {_h(reason)}"
            f" — {_h(run.end_reason or '')}</div>"
        )
    facts = [
        (
            "status",
            run.status
            + (f" ({run.end_reason})" if run.end_reason not in (None, run.status) else ""),
        ),
        ("channel", run.channel),
        ("protocol", run.protocol_name),
        ("cell", run.cell_name),
        ("operator", run.operator),
        ("started", run.started_at.strftime("%Y-%m-%d %H:%M UTC") if run.started_at else "-"),
        ("ended", run.ended_at.strftime("%Y-%m-%d %H:%M UTC") if run.ended_at else "-"),
        ("daemon", run.daemon or "-"),
        ("guid", run.guid),
    ]
    dl = "".join(f"<dt>{_h(k)}</dt><dd>{_h(v)}</dd>" for k, v in facts)
    plots = "<h2>V and I</h2><div id=plot-vi class=plot></div><p class=note id=plot-vi-note></p>"
    if page.has_impedance:
        plots += (
            "<h2>Impedance</h2><div class=pair><div id=plot-nyquist class=plot></div>"
            "<div id=plot-bode class=plot></div></div>"
        )
    if page.cycles:
        plots += (
            "<h2>Capacity and CE per cycle</h2><div id=plot-cycles class=plot></div>"
            "<h2>dQ/dV</h2><div id=plot-dqdv class=plot><p class=note>computing…</p></div>"
        )
    scalars = [
        (name, "-" if r.value is None else f"{r.value:.6g}", r.unit or "")
        for name, r in sorted(detail.results.items())
        if r.value is not None
    ]
    results = _table(("result", "value", "unit"), [(_h(n), _h(v), _h(u)) for n, v, u in scalars])
    steps = _table(
        ("#", "name", "kind", "cycle", "start", "end", "end reason", "Q in / mAh", "Q out / mAh"),
        [
            (
                str(s.step),
                _h(s.name),
                _h(s.kind),
                str(s.cycle),
                duration(s.t_start),
                duration(s.t_end) if s.t_end is not None else "running",
                _h(s.end_reason or ""),
                milliamp_hours(s.charge_Ah),
                milliamp_hours(s.discharge_Ah),
            )
            for s in detail.steps
        ],
        cls="steps",
    )
    events = (
        "<div class=scroll><table class=events id=events><thead><tr><th>run time</th><th>at</th>"
        f"<th>kind</th><th>severity</th><th>message</th></tr></thead><tbody>"
        f"{_event_rows(detail.events)}</tbody></table></div>"
    )
    downloads = [
        f'<a href="/runs/{run.id}/export/{f}" download>{label}</a>' for f, label in EXPORTS
    ]
    if page.cycles:
        downloads += [
            f'<a href="/runs/{run.id}/export/{f}" download>{label}</a>'
            for f, label in CYCLE_EXPORTS
        ]
    downloads.append(f'<a href="/runs/{run.id}/report.zip" download>report (zip)</a>')
    config = {
        "run": run.id,
        "active": run.status not in TERMINAL_STATUSES,
        "impedance": page.has_impedance,
        "cycles": page.cycles,
    }
    body = (
        f'{banner}<h1>Run {run.id} <span class="badge status-{_h(run.status)}">'
        f"{_h(run.status)}</span></h1><dl class=facts>{dl}</dl>"
        f"<p class=downloads>Download: {' · '.join(downloads)}</p>{plots}"
        f"<h2>Results</h2>{results}<h2>Events</h2>{events}<h2>Steps</h2>{steps}"
        f"<h2>Protocol</h2><pre class=source>{_h(page.protocol_text)}</pre>"
        f"<h2>Cell</h2><pre class=source>{_h(page.cell_text)}</pre>"
        f'<script type="application/json" id=run-config>{_json_in_html(config)}</script>'
    )
    return layout(f"Run {run.id}", body, page="run", scripts=("plotly.min.js", "app.js"))


def _json_in_html(value: Any) -> str:
    return json.dumps(value, default=str).replace("<", "\\u003c")


# -- history ---------------------------------------------------------------------------------


def history_page(page: HistoryPage, query: HistoryQuery) -> str:
    def field(name: str, label: str, value: object, kind: str = "search") -> str:
        shown = "" if value is None else value
        return f'<label>{label} <input type={kind} name={name} value="{_h(shown)}"></label>'

    form = (
        '<form class=filters method=get action="/history">'
        + field("protocol", "protocol", query.protocol)
        + field("cell", "cell", query.cell)
        + field("operator", "operator", query.operator)
        + field("end_reason", "end reason", query.end_reason)
        + field("from", "from", query.date_from, "date")
        + field("to", "to", query.date_to, "date")
        + "<button>search</button></form>"
    )
    rows = [
        (
            f'<a href="/runs/{h.run.id}">{h.run.id}</a>',
            _h(h.run.protocol_name),
            _h(h.run.cell_name),
            _h(h.run.operator),
            _h(h.run.channel),
            f'<span class="badge status-{_h(h.run.status)}">{_h(h.run.status)}</span>',
            _h(h.run.end_reason or ""),
            _h(h.run.ended_at.strftime("%Y-%m-%d %H:%M") if h.run.ended_at else ""),
            _h(h.key_results),
        )
        for h in page.rows
    ]
    table = _table(
        (
            "run",
            "protocol",
            "cell",
            "operator",
            "channel",
            "status",
            "end reason",
            "ended (UTC)",
            "key results",
        ),
        rows,
        cls="history",
    )
    params = {
        "protocol": query.protocol,
        "cell": query.cell,
        "operator": query.operator,
        "end_reason": query.end_reason,
        "from": query.date_from or "",
        "to": query.date_to or "",
    }
    kept = {k: v for k, v in params.items() if v}
    links = []
    if page.page > 1:
        links.append(
            f'<a rel=prev href="/history?{urlencode({**kept, "page": page.page - 1})}">← newer</a>'
        )
    links.append(f"page {page.page} of {page.pages} · {page.total} runs")
    if page.page < page.pages:
        links.append(
            f'<a rel=next href="/history?{urlencode({**kept, "page": page.page + 1})}">older →</a>'
        )
    body = f"<h1>History</h1>{form}{table}<p class=pager>{' '.join(links)}</p>"
    return layout("History", body, page="history")


def not_found(what: str) -> str:
    return layout("Not found", f"<h1>Not found</h1><p>{_h(what)}</p>", page="")
