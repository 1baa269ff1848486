"""Importing a Neware file: ``cyclerctl import`` against the reader alone + a raw insert.

The file is ``../shared/data/neware/nda_v26.nda.zip`` (222 330 records, 8 992 cycles; with
``--quick`` the 77 745-record ``TESTCELL0001-…Investigation.ndax``). Each figure is taken
in a fresh subprocess (so its peak resident memory is its own), alternating, best of N:

- the importer: ``import_file(store, path, analyse=False)`` into a fresh SQLite store —
  unzip, sha256, fastnda, records → steps and sample rows, one transaction;
- baseline: ``fastnda.read`` of the same file (unzipped by the same code) + plain
  ``sqlite3.executemany`` of the same sample rows (``INSERT`` into the store's schema, one
  transaction, the store's pragmas) into a fresh file.

Target: importer ≤ 1.5 × baseline. The analysis an import runs afterwards (``cyclerctl
import`` does, for ``results``) is timed on its own line, not in the ratio.
``python -m bench.importer [--quick]`` prints the table; ``python -m bench`` includes it.
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

import numpy as np

from bench.machine import Rows, standalone

REPO = Path(__file__).resolve().parents[1]
NEWARE = REPO.parent / "shared" / "data" / "neware"
FULL_FILE = "nda_v26.nda.zip"
QUICK_FILE = "TESTCELL0001-B2-2025-M50T_NewareNDA_Investigation.ndax"
RATIO_TARGET = 1.5


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(path: Path, db: Path) -> dict[str, float]:
    """fastnda alone + raw sqlite3.executemany of the same rows."""
    import fastnda

    from cyclerctl.readers.neware import _unzip_one
    from cyclerctl.store import SAMPLE_ROW_DTYPE, Store

    Store.open(f"sqlite:///{db}").close()  # the schema, made before the clock starts
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        inner = _unzip_one(path, Path(tmp)) if path.suffix == ".zip" else path
        df = fastnda.read(inner, cycle_mode="raw")
    rows = np.zeros(df.height, dtype=SAMPLE_ROW_DTYPE)
    rows["seq"] = np.arange(1, df.height + 1)
    rows["t"] = df["total_time_s"].to_numpy()
    rows["V"] = df["voltage_V"].to_numpy()
    rows["I"] = df["current_mA"].to_numpy() * 1e-3
    rows["Q"] = df["capacity_mAh"].to_numpy() * 3.6
    rows["T"] = np.nan
    rows["step"] = df["step_count"].to_numpy()
    rows["cycle"] = df["cycle_count"].to_numpy()
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "INSERT INTO runs (id, guid, protocol_name, protocol_source, protocol_text, "
        "protocol_sha256, cell_name, cell_text, cell_json, parameters, analysis, instrument, "
        "channel, operator, status, is_completed, created_at) VALUES (1, 'g', '', '', '', "
        "'', '', '', '{}', '{}', '{}', '{}', 'c', '', 'completed', 1, '2026-01-01')"
    )
    connection.execute("BEGIN")
    connection.executemany(
        'INSERT INTO samples (run_id, seq, t, V, I, Q, "T_K", step, cycle) '
        "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows.tolist(),
    )
    connection.execute("COMMIT")
    connection.close()
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "rows": df.height}


def importer(path: Path, db: Path) -> dict[str, float]:
    """What ``cyclerctl import FILE`` does, but the analysis (timed apart)."""
    from cyclerctl.readers.into_store import import_file
    from cyclerctl.reanalysis import reanalyse
    from cyclerctl.store import Store

    store = Store.open(f"sqlite:///{db}")
    try:
        start = time.perf_counter()
        outcome = import_file(store, path, analyse=False)
        seconds = time.perf_counter() - start
        assert outcome.status == "imported", outcome.reason
        peak = _peak_mb()
        start = time.perf_counter()
        reanalyse(store, outcome.run_ids[0])
        analysis = time.perf_counter() - start
    finally:
        store.close()
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "rows": outcome.records,
        "cycles": outcome.cycles,
        "analysis_s": analysis,
    }


def _measure(kind: str, path: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "bench.importer", "--one", kind, str(path),
             str(Path(tmp) / "bench.db")],
            cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"bench.importer --one {kind} failed: {out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def table(quick: bool) -> Rows:
    path = NEWARE / (QUICK_FILE if quick else FULL_FILE)
    if not path.is_file():
        return [("import a Neware file", f"skipped: {path} is absent")]
    try:
        import fastnda  # noqa: F401
    except ImportError:
        return [("import a Neware file", "skipped: pip install 'cyclerctl[import]'")]
    repeats = 2 if quick else 3
    ours, base = [], []
    for _ in range(repeats):
        base.append(_measure("baseline", path))
        ours.append(_measure("importer", path))
    best_ours = min(ours, key=lambda r: r["seconds"])
    best_base = min(base, key=lambda r: r["seconds"])
    ratio = best_ours["seconds"] / best_base["seconds"]
    ok = "ok" if ratio <= RATIO_TARGET else "MISSED"
    rows = int(best_ours["rows"])
    return [
        (
            f"import {path.name} ({rows:,} records, {int(best_ours['cycles']):,} cycles): "
            "s; peak MB",
            f"{best_ours['seconds']:.2f}; {best_ours['peak_mb']:.0f}",
        ),
        (
            "  baseline: fastnda.read + raw sqlite3.executemany of the rows: s; peak MB",
            f"{best_base['seconds']:.2f}; {best_base['peak_mb']:.0f}",
        ),
        (f"  ratio import / baseline (target ≤ {RATIO_TARGET:g})", f"{ratio:.2f} {ok}"),
        (
            "  import records/s; best of",
            f"{rows / best_ours['seconds']:,.0f}; {repeats}",
        ),
        (
            "  then the cycling analysis of the run (not in the ratio): s",
            f"{best_ours['analysis_s']:.2f}",
        ),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--one"]:
        parser = argparse.ArgumentParser(prog="python -m bench.importer --one")
        parser.add_argument("--one", choices=("baseline", "importer"))
        parser.add_argument("path", type=Path)
        parser.add_argument("db", type=Path)
        one = parser.parse_args(args)
        measure = baseline if one.one == "baseline" else importer
        print(json.dumps(measure(one.path, one.db)))
        return
    standalone("python -m bench.importer", "the 77 745-record .ndax instead", table, args)


if __name__ == "__main__":
    main()
