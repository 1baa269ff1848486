"""`cyclerctl runs`, `show` and `analyze`: the runs in the database, one run, its results again."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import (
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
    json_arg(c)

    c = add_command(sub, "show", _show, "one run: metadata, status, results")
    run_arg(c)
    db_arg(c)
    json_arg(c)

    c = add_command(sub, "analyze", _analyze, "recompute a run's results from its stored data")
    run_arg(c)
    db_arg(c)
    json_arg(c)


def _runs(args: argparse.Namespace, config: Config) -> int:
    import dataclasses

    from cyclerctl.progress import format_runs
    from cyclerctl.store.owners import shown_status

    store = open_store(args.db, config)
    try:
        runs = store.list_runs(limit=args.limit)
        owners = {d.name: d for d in store.daemons()}
    finally:
        store.close()
    # an active run whose owner process is gone is shown as orphaned (`cyclerctl resume`)
    stale = config.daemon.stale_after_s
    runs = [dataclasses.replace(r, status=shown_status(r, owners, stale_after_s=stale))
            for r in runs]  # fmt: skip
    if args.json:
        print_json([r.as_dict() for r in runs])
    else:
        print(format_runs(runs))
    return 0


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


def _analyze(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_results
    from cyclerctl.reanalysis import reanalyse

    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        analysis = reanalyse(store, run.id)
        results = store.results(run.id)
    finally:
        store.close()
    if args.json:
        print_json(run_json(run, results))
    else:
        print(f"run {run.id}: {analysis.version}")
        for line in format_results(results):
            print(line)
    return 0
