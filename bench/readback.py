"""Read back one run into numpy: ``Store.samples`` against a raw ``sqlite3`` fetch.

A run of 1 000 000 points (100 000 with ``--quick``) is synthesised into a fresh SQLite file
in the store's schema (bench.export's synthesiser). Then, alternating, best of N:

- the store: ``Store.samples(run_id)`` (SAMPLE_ROW_DTYPE, ordered by seq);
- baseline: plain ``sqlite3``, the same columns and rows (``WHERE run_id = ? ORDER BY
  seq``), ``fetchall`` and one ``np.array(rows, dtype=SAMPLE_ROW_DTYPE)``.

Targets: store ≤ 1.2 × baseline and ≤ 1 s for the million points.
``python -m bench.readback [--quick]`` prints the table; ``python -m bench`` includes it.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.export import synthesise
from cyclerctl.store import SAMPLE_ROW_DTYPE, Store

FULL_POINTS = 1_000_000
QUICK_POINTS = 100_000
RATIO_TARGET = 1.2
SECONDS_TARGET = 1.0


def raw_fetch(db: Path, run_id: int) -> NDArray[np.void]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute(
            'SELECT seq, t, V, I, Q, "T_K", step, cycle FROM samples WHERE run_id = ? ORDER BY seq',
            (run_id,),
        ).fetchall()
    finally:
        connection.close()
    return np.array(rows, dtype=SAMPLE_ROW_DTYPE)


def store_fetch(store: Store, run_id: int) -> NDArray[np.void]:
    return store.samples(run_id)


def run(points: int, repeats: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "readback.db"
        run_id, _ = synthesise(db, points)
        store = Store.open(f"sqlite:///{db}")
        try:
            raw_fetch(db, run_id)  # warm the page cache for both
            raw_s, store_s = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                raw = raw_fetch(db, run_id)
                raw_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                got = store_fetch(store, run_id)
                store_s.append(time.perf_counter() - start)
        finally:
            store.close()
    assert len(got) == len(raw) == points and np.array_equal(got["seq"], raw["seq"])
    best_store, best_raw = min(store_s), min(raw_s)
    ratio = best_store / best_raw
    ok_ratio = "ok" if ratio <= RATIO_TARGET else "MISSED"
    # the 1 s target is for a million points; scale it for other sizes
    limit = SECONDS_TARGET * points / FULL_POINTS
    ok_s = "ok" if best_store <= limit else "MISSED"
    return [
        (
            f"read back a {points:,}-point run, Store.samples → numpy: s (≤ {limit:g} s)",
            f"{best_store:.3f} {ok_s}",
        ),
        ("  baseline: raw sqlite3 fetchall → np.array, same rows: s", f"{best_raw:.3f}"),
        (f"  ratio store / raw (target ≤ {RATIO_TARGET:g})", f"{ratio:.2f} {ok_ratio}"),
        ("  store rows/s; best of", f"{points / best_store:,.0f}; {repeats}"),
    ]


def table(quick: bool) -> list[tuple[str, str]]:
    """The rows ``python -m bench`` prints: quick or full sizes."""
    return run(QUICK_POINTS, 1) if quick else run(FULL_POINTS, 3)


def main(argv: list[str] | None = None) -> None:
    from bench.machine import standalone

    standalone("python -m bench.readback", f"{QUICK_POINTS:,} points", table, argv)


if __name__ == "__main__":
    main()
