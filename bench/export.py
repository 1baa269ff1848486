"""Export: a 10-million-point run (200 000 with ``--quick``) to csv, mpt and parquet.

The run is synthesised straight into a real SQLite file in the store's schema (one run made
with ``Store.create_run``, then its samples bulk-inserted with ``sqlite3.executemany`` in
100 000-row batches). Each format is exported in its own subprocess, so the peak resident
memory (``ru_maxrss`` of that process) is the format's own. Baseline in the same run: a
subprocess fetching the same rows with plain ``sqlite3`` in the same 100 000-row keyset
pages and doing nothing with them (what reading alone costs).

``python -m bench.export [--quick] [--points N]`` prints the table; ``python -m bench``
includes it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FULL_POINTS = 10_000_000
QUICK_POINTS = 200_000
BATCH = 100_000
POINTS_PER_HALF_CYCLE = 1_000
FORMATS = ("csv", "mpt", "parquet")
PEAK_TARGET_MB = 300.0


def _plan() -> Any:
    from cyclerctl.plan import CellSummary, Plan, RecordCriteria

    cell = CellSummary(
        name="bench-cell", chemistry="synthetic", area_m2=1e-4, nominal_capacity_Ah=1e-3
    )
    return Plan(
        protocol_name="bench:synthetic",
        description="synthetic run for the export benchmark",
        protocol_text="",
        protocol_sha256="0" * 64,
        protocol_source="bench",
        parameters={},
        cell=cell,
        cell_text="",
        safety=(),
        record=RecordCriteria(),
        body=(),
        steps=(),
        analysis={},
    )


def _batch(start: int, n: int, run_id: int) -> list[tuple[Any, ...]]:
    """Rows seq start+1 … start+n: 1 s apart, ±1 mA half cycles of POINTS_PER_HALF_CYCLE."""
    seq = np.arange(start + 1, start + n + 1, dtype=np.int64)
    k = seq - 1
    half = k // POINTS_PER_HALF_CYCLE
    within = (k % POINTS_PER_HALF_CYCLE + 1).astype(np.float64)
    sign = np.where(half % 2 == 0, 1.0, -1.0)
    current = sign * 1e-3
    charge = current * within  # C since the step began (1 s per point)
    voltage = 3.7 + sign * 0.4 * within / POINTS_PER_HALF_CYCLE
    columns = (
        np.full(n, run_id).tolist(),
        seq.tolist(),
        k.astype(np.float64).tolist(),
        voltage.tolist(),
        current.tolist(),
        charge.tolist(),
        np.full(n, 298.15).tolist(),
        (half + 1).tolist(),
        (half // 2 + 1).tolist(),
    )
    return list(zip(*columns, strict=True))


def synthesise(db: Path, points: int) -> tuple[int, float]:
    """A completed run of ``points`` samples in a new store at ``db``; (run id, seconds)."""
    from cyclerctl.store import Store

    start = time.perf_counter()
    store = Store.open(f"sqlite:///{db}")
    run = store.create_run(
        _plan(),
        operator="bench",
        instrument={"model": "synthetic", "serial": "0", "firmware": ""},
        channel="bench",
        status="completed",
    )
    store.close()
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        sql = (
            'INSERT INTO samples (run_id, seq, t, V, I, Q, "T_K", step, cycle) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for first in range(0, points, BATCH):
            connection.executemany(sql, _batch(first, min(BATCH, points - first), run.id))
            connection.commit()
    finally:
        connection.close()
    return run.id, time.perf_counter() - start


def _peak_mb() -> float:
    """This process's peak resident memory, MB (VmHWM; ru_maxrss where /proc is absent)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(what: str, db: Path, run_id: int, out: Path) -> dict[str, float]:
    """In the subprocess: export (or, for ``fetch``, only read) the run; rows, s, peak MB."""
    start = time.perf_counter()
    if what == "fetch":
        connection = sqlite3.connect(db)
        sql = (
            'SELECT seq, t, V, I, Q, "T_K", step, cycle FROM samples '
            "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        )
        rows, last = 0, -(2**62)
        while True:
            page = connection.execute(sql, (run_id, last, BATCH)).fetchall()
            if not page:
                break
            rows += len(page)
            last = page[-1][0]
            del page
        connection.close()
    else:
        from cyclerctl.export import export_run
        from cyclerctl.store import Store

        store = Store.open(f"sqlite:///{db}")
        export_run(store, run_id, what, out)
        rows = store.last_seq(run_id)
        store.close()
    return {"rows": rows, "seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def _measure(what: str, db: Path, run_id: int, out: Path) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.export", "--child", what, str(db), str(run_id), str(out)]
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=repo)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["bytes"] = out.stat().st_size if out.exists() else 0
    return result


def run(points: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "export.db"
        run_id, made_s = synthesise(db, points)
        rows.append((f"export: synthesise {points:,} points into SQLite: wall s", f"{made_s:.1f}"))
        base = _measure("fetch", db, run_id, Path(tmp) / "none")
        rows.append(
            (
                "  baseline: raw sqlite3 fetch, 100k pages: rows/s, peak MB",
                f"{base['rows'] / base['seconds']:,.0f}, {base['peak_mb']:.0f}",
            )
        )
        for fmt in FORMATS:
            m = _measure(fmt, db, run_id, Path(tmp) / f"run.{fmt}")
            ok = "ok" if m["peak_mb"] < PEAK_TARGET_MB else f"OVER {PEAK_TARGET_MB:.0f} MB"
            rows.append(
                (
                    f"  export {fmt}: rows/s, peak MB ({ok}), MB written, x fetch time",
                    f"{m['rows'] / m['seconds']:,.0f}, {m['peak_mb']:.0f}, "
                    f"{m['bytes'] / 1e6:.0f}, {m['seconds'] / base['seconds']:.1f}",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_POINTS:,} points")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--child", nargs=4, metavar=("WHAT", "DB", "RUN", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        what, db, run_id, out = args.child
        print(json.dumps(child(what, Path(db), int(run_id), Path(out))))
        return
    from bench.machine import describe, print_rows

    points = args.points or (QUICK_POINTS if args.quick else FULL_POINTS)
    print(f"machine: {describe()}")
    table = run(points)
    print_rows(table)


if __name__ == "__main__":
    main()
