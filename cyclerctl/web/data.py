"""The web pages' read model: the TUI's (cyclerctl.tui.data.LabData) plus what a browser
shows and a terminal does not — searchable, paged history; impedance with frequencies
(Bode); the per-cycle table; dQ/dV; plot data decimated per pixel column (downsample).

Never writes: the server opens the database read-only (SQLite ``mode=ro``, PostgreSQL
read-only transactions, or a read-only role), and nothing here calls a Store write.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from cyclerctl.config import Config
from cyclerctl.store import TERMINAL_STATUSES, Result, RunInfo, Store, models
from cyclerctl.store.records import utcnow
from cyclerctl.tui.data import ChannelRow, HistoryRow, LabData, RunDetail, key_results
from cyclerctl.web.downsample import PlotData, PlotReader

HISTORY_PAGE = 50
IMPEDANCE_POINTS = 20_000  # an EIS run has tens to a few thousand; a long series is capped


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What the history page's search form asks (every field optional, all must match)."""

    protocol: str = ""
    cell: str = ""
    operator: str = ""
    end_reason: str = ""  # matches the end reason or the status (e.g. "safety")
    date_from: date | None = None  # runs ended (or created) on or after this day, UTC
    date_to: date | None = None  # … on or before this day
    page: int = 1


@dataclass(frozen=True, slots=True)
class HistoryPage:
    rows: list[HistoryRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class RunPage:
    detail: RunDetail
    protocol_text: str
    cell_text: str
    has_impedance: bool
    cycles: list[dict[str, Any]] = field(default_factory=list)  # results["cycles"].data


def channel_json(row: ChannelRow) -> dict[str, Any]:
    values = asdict(row)
    values["instrument"] = row.instrument
    return values


class WebData:
    """One per server; thread-safe as LabData is (each call opens its own connection)."""

    def __init__(
        self, store: Store, config: Config, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.lab = LabData(store, config, clock=clock, host="web")
        self.plots = PlotReader(store)

    # -- overview -----------------------------------------------------------------------

    def overview(self) -> list[ChannelRow]:
        return self.lab.overview()

    # -- one run --------------------------------------------------------------------------

    def run(self, run_id: int) -> RunInfo | None:
        return self.lab.run(run_id)

    def run_page(self, run_id: int) -> RunPage | None:
        detail = self.lab.detail(run_id)
        if detail is None:
            return None
        snapshot = self.store.run_snapshot(run_id) or {}
        cycles = detail.results.get("cycles")
        rows = cycles.data if cycles is not None and isinstance(cycles.data, list) else []
        return RunPage(
            detail,
            str(snapshot.get("protocol_text") or ""),
            str(snapshot.get("cell_text") or ""),
            self.has_impedance(run_id),
            [r for r in rows if isinstance(r, dict)],
        )

    def plot(self, run_id: int, *, t0: float | None, t1: float | None, width: int) -> PlotData:
        run = self.lab.run(run_id)
        finished = run is not None and run.status in TERMINAL_STATUSES
        return self.plots.plot(run_id, t0=t0, t1=t1, width=width, finished=finished)

    def has_impedance(self, run_id: int) -> bool:
        table = models.impedance
        query = select(table.c.seq).where(table.c.run_id == run_id).limit(1)
        with self.store.engine.connect() as connection:
            return connection.execute(query).first() is not None

    def impedance(self, run_id: int) -> dict[str, list[float]]:
        """f (Hz), Z' and Z'' (Ω) of the latest points, oldest first."""
        table = models.impedance
        query = (
            select(table.c.f, table.c.Zre, table.c.Zim, table.c.step)
            .where(table.c.run_id == run_id)
            .order_by(table.c.seq.desc())
            .limit(IMPEDANCE_POINTS)
        )
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()[::-1]
        return {
            "f": [float(r[0]) for r in rows],
            "Zre": [float(r[1]) for r in rows],
            "Zim": [float(r[2]) for r in rows],
            "step": [int(r[3]) for r in rows],
        }

    def differential_capacity(self, run_id: int, cycles: list[int]) -> list[dict[str, Any]]:
        """dQ/dV of the chosen cycles (cyclerctl.reanalysis; reads the whole run once)."""
        from cyclerctl.reanalysis import differential_capacity

        curves = differential_capacity(self.store, run_id, cycles)
        return [
            {
                "cycle": c.cycle,
                "half": c.half,
                "capacity_unit": c.capacity_unit,
                "V": _finite_list(c.dqdv_V),
                "dqdv": _finite_list(c.dqdv),
                "method": c.method,
            }
            for c in curves
        ]

    def chosen_cycles(self, run_id: int) -> list[int]:
        """The cycles the report draws dQ/dV for (first, reference, middle, last)."""
        from cyclerctl.report.cycles import chosen_cycles

        results = self.lab.results(run_id)
        rows = results.get("cycles")
        meta = results.get("cycles_metadata")
        table = rows.data if rows is not None and isinstance(rows.data, list) else []
        reference = (
            meta.data.get("reference_cycle") if meta and isinstance(meta.data, dict) else None
        )
        return chosen_cycles(table, reference)

    def results(self, run_id: int) -> dict[str, Result]:
        return self.lab.results(run_id)

    # -- history --------------------------------------------------------------------------

    def history(self, query: HistoryQuery) -> HistoryPage:
        self.lab.check_database()
        table = models.runs
        conditions: list[ColumnElement[bool]] = [table.c.status.in_(sorted(TERMINAL_STATUSES))]
        for column, text in (
            (table.c.protocol_name, query.protocol),
            (table.c.cell_name, query.cell),
            (table.c.operator, query.operator),
        ):
            if text.strip():
                conditions.append(
                    func.lower(column).contains(text.strip().lower(), autoescape=True)
                )
        if query.end_reason.strip():
            text = query.end_reason.strip().lower()
            conditions.append(
                or_(
                    func.lower(func.coalesce(table.c.end_reason, "")).contains(
                        text, autoescape=True
                    ),
                    func.lower(table.c.status).contains(text, autoescape=True),
                )
            )
        when = func.coalesce(table.c.ended_at, table.c.created_at)
        if query.date_from is not None:
            conditions.append(when >= datetime.combine(query.date_from, time.min, UTC))
        if query.date_to is not None:
            conditions.append(when <= datetime.combine(query.date_to, time.max, UTC))
        where = and_(*conditions)
        with self.store.engine.connect() as connection:
            total = int(
                connection.execute(
                    select(func.count()).where(where).select_from(table)
                ).scalar_one()
            )
            pages = max(1, math.ceil(total / HISTORY_PAGE))
            page = min(max(1, query.page), pages)
            ids = [
                int(i)
                for i in connection.execute(
                    select(table.c.id)
                    .where(where)
                    .order_by(table.c.id.desc())
                    .limit(HISTORY_PAGE)
                    .offset((page - 1) * HISTORY_PAGE)
                ).scalars()
            ]
        rows = []
        for run_id in ids:
            run = self.store.get_run(run_id)
            if run is not None:
                rows.append(HistoryRow(run, key_results(self.lab.results(run_id, finished=True))))
        return HistoryPage(rows, total, page, pages)


def _finite_list(values: Any) -> list[float | None]:
    return [float(v) if math.isfinite(float(v)) else None for v in values]
