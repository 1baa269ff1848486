"""`cyclerctl runs`, `show` and `analyze`: the runs in the database, one run, its results again."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import (
    BadInput,
    Subparsers,
    add_command,
    db_arg,
    find_run,
    json_arg,
    open_store,
    print_json,
    run_arg,
    run_json,
)
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(sub, "runs", _runs, "list runs in the database")
    db_arg(c)
    c.add_argument("--limit", type=int, default=None)
    c.add_argument(
        "--source", choices=["import"], help="only the runs imported from files (with the file)"
    )
    json_arg(c)

    c = add_command(sub, "show", _show, "one run: metadata, status, results")
    run_arg(c)
    db_arg(c)
    json_arg(c)

    c = add_command(sub, "analyze", _analyze, "recompute a run's results from its stored data")
    run_arg(c)
    db_arg(c)
    c.add_argument(
        "--dqdv",
        metavar="CYCLES",
        help="also dQ/dV and dV/dQ of these cycles (e.g. 1,10,100; 10 mV voltage bins)",
    )
    c.add_argument(
        "-o", "--output", help="with --dqdv: write the curves here (.csv + .json sidecar, .parquet)"
    )
    json_arg(c)


def _runs(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_runs

    store = open_store(args.db, config)
    try:
        runs = store.list_runs(limit=args.limit, source=args.source)
        files = {r.id: store.imported_file(r.id) for r in runs} if args.source else {}
    finally:
        store.close()
    if args.json:
        print_json([{**r.as_dict(), **({"file": files[r.id]} if r.id in files else {})}
                    for r in runs])  # fmt: skip
        return 0
    print(format_runs(runs))
    for run_id, file in files.items():
        if file:
            print(f"  run {run_id}: {_file_line(file)}")
    return 0


#: What `runs --source import` shows of each run's file.
FILE_FIELDS = ("file_name", "vendor", "format_version", "tester_channel", "test_id")


def _file_line(file: dict[str, object]) -> str:
    parts = [str(file[k]) for k in FILE_FIELDS if file.get(k)]
    sha = str(file.get("sha256") or "")[:12]
    return " · ".join(parts) + (f" · sha256 {sha}…" if sha else "")


def _show(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_run

    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        results = store.results(run.id)
        steps = store.steps(run.id)
        events = store.events(run.id)
    finally:
        store.close()
    if args.json:
        print_json(run_json(run, results))
    else:
        print(format_run(run, results, steps, events))
    return 0


def _cycles(text: str) -> list[int]:
    try:
        cycles = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        cycles = []
    if not cycles or any(c < 1 for c in cycles):
        raise BadInput(f"--dqdv: expected cycle numbers from 1, comma-separated, got {text!r}")
    return cycles


def _analyze(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_results
    from cyclerctl.reanalysis import differential_capacity, reanalyse

    cycles = _cycles(args.dqdv) if args.dqdv else None
    if args.output and cycles is None:
        raise BadInput("-o/--output: only with --dqdv")
    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        analysis = reanalyse(store, run.id)
        results = store.results(run.id)
        curves = []
        if cycles is not None:
            try:
                curves = differential_capacity(store, run.id, cycles)
            except ValueError as exc:
                raise BadInput(f"--dqdv: run {run.id}: {exc}") from None
            if args.output:
                from cyclerctl.export import export_differential_capacity

                export_differential_capacity(store, run.id, cycles, args.output)
    finally:
        store.close()
    if args.json:
        data = run_json(run, results)
        if cycles is not None:
            data["dqdv"] = [
                {"cycle": c.cycle, "half": c.half, "method": c.method, "rows": c.rows()}
                for c in curves
            ]
        print_json(data)
        return 0
    print(f"run {run.id}: {analysis.version}")
    for line in format_results(results):
        print(line)
    for curve in curves:
        peak = int(abs(curve.dqdv).argmax()) if len(curve.dqdv) else None
        where = "" if peak is None else (
            f"; largest |dQ/dV| {abs(curve.dqdv[peak]):.4g} {curve.capacity_unit}/V"
            f" at {curve.dqdv_V[peak]:.3f} V"
        )
        print(f"  dQ/dV cycle {curve.cycle} {curve.half}: {len(curve.dqdv)} bins{where}")
    if cycles is not None and curves:
        print(f"  method: {curves[0].method}")
    if args.output:
        print(f"  curves written to {args.output}")
    return 0
