"""What ``cyclerctl import`` shows: a progress line, one JSON line per file, a summary table.

The CLI (``cyclerctl import PATH... [--cell C] [--force] [--json]``) calls
:func:`run_import` with the open store and the loaded cell; it returns the exit code: 0 when
every file was imported or already there, 1 when any failed, 2 for bad arguments (no path,
a path that does not exist: nothing is imported then).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from cyclerctl.plan import CellSummary
from cyclerctl.readers.into_store import ImportOutcome, ImportSummary, Progress, import_paths
from cyclerctl.store import Store

__all__ = [
    "EXIT_BAD_ARGS",
    "EXIT_FAILED",
    "EXIT_OK",
    "outcome_json",
    "render_progress",
    "render_summary",
    "run_import",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_ARGS = 0, 1, 2


def render_progress(progress: Progress, width: int = 24) -> str:
    """One line: a bar of files done, records, rate and the file being read."""
    total = max(progress.files_total, 1)
    filled = int(width * progress.files_done / total)
    bar = "#" * filled + "." * (width - filled)
    return (
        f"[{bar}] {progress.files_done}/{progress.files_total} files  "
        f"{progress.records:,} records  {progress.rate:,.0f} rec/s"
        + (f"  {progress.current}" if progress.current else "")
    )


def render_summary(summary: ImportSummary) -> str:
    """The table at the end: one row per file, then the counts."""
    rows = [("file", "status", "runs", "records", "cycles", "reason")]
    for o in summary.outcomes:
        note = o.reason or "; ".join(o.warnings)
        rows.append(
            (
                str(o.path),
                o.status + (" (with warnings)" if o.warnings and o.status == "imported" else ""),
                ",".join(map(str, o.run_ids)),
                f"{o.records:,}" if o.status == "imported" else "",
                str(o.cycles) if o.status == "imported" else "",
                note,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
             for r in rows]  # fmt: skip
    lines.append(
        f"{summary.count('imported')} imported, {summary.count('already')} already there, "
        f"{summary.count('failed')} failed"
        + (f", {len(summary.skipped)} skipped (no reader)" if summary.skipped else "")
        + f" — {summary.records:,} records in {summary.seconds:.1f} s"
    )
    return "\n".join(line.rstrip() for line in lines)


def outcome_json(outcome: ImportOutcome) -> str:
    """One JSON line for ``--json``."""
    return json.dumps(outcome.as_dict(), sort_keys=True)


def run_import(
    store: Store,
    paths: Sequence[str | Path],
    cell: CellSummary | None = None,
    *,
    force: bool = False,
    as_json: bool = False,
    operator: str = "",
    out: TextIO | None = None,
    err: TextIO | None = None,
    refresh_s: float = 0.2,
) -> int:
    """``cyclerctl import``: the progress line on ``err`` (rewritten in place on a terminal,
    at most every ``refresh_s``), then the summary table on ``out`` — or, with ``as_json``,
    one JSON line per file on ``out`` as each ends. Returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not paths:
        print("cyclerctl import: give at least one file or folder", file=err)
        return EXIT_BAD_ARGS
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        print(f"cyclerctl import: no such file or folder: {', '.join(missing)}", file=err)
        return EXIT_BAD_ARGS
    live = err.isatty()
    last = 0.0

    def on_progress(progress: Progress) -> None:
        nonlocal last
        now = time.monotonic()
        done = progress.files_done == progress.files_total
        if live and (done or now - last >= refresh_s):
            last = now
            print("\r" + render_progress(progress), end="\n" if done else "", file=err, flush=True)

    def on_file(outcome: ImportOutcome) -> None:
        if as_json:
            print(outcome_json(outcome), file=out, flush=True)
        elif not live:  # a log, not a terminal: one line per file instead of the bar
            why = f" ({outcome.reason})" if outcome.reason else ""
            print(f"{outcome.path}: {outcome.status}{why}", file=err)

    summary: ImportSummary = import_paths(
        store, paths, cell, force=force, operator=operator,
        on_progress=on_progress, on_file=on_file,
    )  # fmt: skip
    if not as_json:
        print(render_summary(summary), file=out)
    return summary.exit_code
