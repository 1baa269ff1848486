"""Plot data of a run, light whatever its length: min/max per pixel column, in SQL.

A plot ``width`` pixels wide cannot show more than one rising and one falling stroke per
column, so each column (an equal share of the range's points, placed at their own times)
becomes two points, its lowest and its highest value
(the "min/max" decimation of plotly-resampler and of oscilloscopes; it keeps every spike,
where taking every n-th point can miss them). The grouping runs in the database over the
run's clustered ``(run_id, seq)`` range: a 1 M-point run sends ~4 width points, not 1 M rows.

Zooming asks for ``t0..t1``: the seq range is found by binary search over the key (``t``
grows with ``seq`` in a run), so the finer view reads only the rows it shows. A range with
fewer than ``2 × width`` points is sent as it is.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from cyclerctl.store import Store, models

MIN_WIDTH = 50
MAX_WIDTH = 2000


@dataclass(frozen=True, slots=True)
class PlotData:
    """Run time (s) and values of one plot's V and I curves."""

    t: list[float]
    V: list[float]
    tI: list[float]
    I: list[float]
    total_points: int  # in the run
    points_in_range: int
    method: str  # "raw" | "min/max per column of … s"

    def as_json(self) -> str:
        """Compact JSON: numbers with the digits a plot can show (6-8 significant)."""
        return (
            f'{{"total_points":{self.total_points},"points_in_range":{self.points_in_range},'
            f'"method":"{self.method}","t":{_numbers(self.t, 9)},"V":{_numbers(self.V, 6)},'
            f'"tI":{_numbers(self.tI, 9)},"I":{_numbers(self.I, 5)}}}'
        )


def _numbers(values: Sequence[float], digits: int) -> str:
    return "[" + ",".join(f"{v:.{digits}g}" if math.isfinite(v) else "null" for v in values) + "]"


class PlotReader:
    """Reads plot data; caches what a finished run returns (it never changes)."""

    def __init__(self, store: Store, cache_size: int = 64) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[int, int, int, int], PlotData] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def plot(
        self,
        run_id: int,
        *,
        t0: float | None = None,
        t1: float | None = None,
        width: int = 1000,
        finished: bool = False,
    ) -> PlotData:
        width = max(MIN_WIDTH, min(MAX_WIDTH, width))
        last = self.store.last_seq(run_id)
        empty = PlotData([], [], [], [], last, 0, "raw")
        if last <= 0:
            return empty
        with self.store.engine.connect() as connection:
            lo = 1 if t0 is None else _first_seq_at(connection, run_id, t0, last)
            hi = last if t1 is None else _last_seq_at(connection, run_id, t1, last)
            if lo is None or hi is None or hi < lo:
                return empty
            key = (run_id, lo, hi, width)
            if finished:
                with self._lock:
                    if key in self._cache:
                        self._cache.move_to_end(key)
                        return self._cache[key]
            data = _read(connection, run_id, lo, hi, width, last)
        if finished:
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return data


def _t_at(
    connection: Connection, run_id: int, seq: int, *, after: bool
) -> tuple[int, float] | None:
    """(seq, t) of the first stored point at or after ``seq`` (before, when not ``after``)."""
    table = models.samples
    query = select(table.c.seq, table.c.t).where(table.c.run_id == run_id)
    if after:
        query = query.where(table.c.seq >= seq).order_by(table.c.seq)
    else:
        query = query.where(table.c.seq <= seq).order_by(table.c.seq.desc())
    row = connection.execute(query.limit(1)).first()
    return None if row is None else (int(row[0]), float(row[1]))


def _first_seq_at(connection: Connection, run_id: int, t: float, last: int) -> int | None:
    """The first seq whose t ≥ ``t`` (binary search on the key, ~2·log2(n) lookups)."""
    lo, hi = 1, last
    found: int | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        point = _t_at(connection, run_id, mid, after=True)
        if point is None:
            hi = mid - 1
        elif point[1] >= t:
            found, hi = point[0], mid - 1
        else:
            lo = point[0] + 1
    return found


def _last_seq_at(connection: Connection, run_id: int, t: float, last: int) -> int | None:
    """The last seq whose t ≤ ``t``."""
    lo, hi = 1, last
    found: int | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        point = _t_at(connection, run_id, mid, after=False)
        if point is None:
            lo = mid + 1
        elif point[1] <= t:
            found, lo = point[0], mid + 1
        else:
            hi = point[0] - 1
    return found


def _read(
    connection: Connection, run_id: int, lo: int, hi: int, width: int, total: int
) -> PlotData:
    table = models.samples
    in_range = (table.c.run_id == run_id) & table.c.seq.between(lo, hi)
    count = hi - lo + 1  # seqs have no gaps in a run; a gap only makes this an upper bound
    if count <= 2 * width:
        query = select(table.c.t, table.c.V, table.c.I).where(in_range).order_by(table.c.seq)
        rows = connection.execute(query).all()
        t = [float(r[0]) for r in rows]
        return PlotData(
            t, [float(r[1]) for r in rows], t, [float(r[2]) for r in rows], total, len(rows), "raw"
        )
    # one aggregate per column over its own key range: the database walks the run's rows
    # once, in key order (a single GROUP BY over a computed column makes SQLite sort all
    # of them first: 4x slower on a 1 M-point run)
    per_column = count / width
    query = select(
        func.min(table.c.t),
        func.max(table.c.t),
        func.min(table.c.V),
        func.max(table.c.V),
        func.min(table.c.I),
        func.max(table.c.I),
    ).where(
        table.c.run_id == run_id,
        table.c.seq.between(bindparam("first"), bindparam("last")),
    )
    t_out: list[float] = []
    v_out: list[float] = []
    ti_out: list[float] = []
    i_out: list[float] = []
    # compiled once and run on the driver's own cursor: SQLAlchemy's per-call work was half
    # of the time for 1200 small queries
    compiled = query.compile(dialect=connection.dialect)
    sql = str(compiled)
    cursor = connection.connection.cursor()
    try:
        found: list[Any] = []
        for k in range(width):
            first, final = lo + int(k * per_column), lo + int((k + 1) * per_column) - 1
            params = compiled.construct_params({"first": first, "last": min(final, hi)})
            if compiled.positiontup is not None:
                cursor.execute(sql, [params[name] for name in compiled.positiontup])
            else:
                cursor.execute(sql, params)
            found.append(cursor.fetchone())
    finally:
        cursor.close()
    for r in found:
        if r is None or r[0] is None:
            continue
        t_min, t_max = float(r[0]), float(r[1])
        _pair(t_out, v_out, t_min, t_max, float(r[2]), float(r[3]))
        _pair(ti_out, i_out, t_min, t_max, float(r[4]), float(r[5]))
    step = (t_out[-1] - t_out[0]) / width if t_out else 0.0
    method = f"min/max of {per_column:.0f} points per column (~{step:.3g} s)"
    return PlotData(t_out, v_out, ti_out, i_out, total, count, method)


def _pair(
    ts: list[float], values: list[float], t_min: float, t_max: float, low: float, high: float
) -> None:
    """A column's two points, the one nearer the previous column's last value first, so a
    rising or falling curve is drawn in its own direction."""
    if low == high:
        ts.append(t_min)
        values.append(low)
        return
    if values and abs(values[-1] - high) < abs(values[-1] - low):
        low, high = high, low
    ts.extend((t_min, t_max))
    values.extend((low, high))
