"""`cyclerctl watch RUN`: follow a run live in a plain terminal; exit with the run's code."""

from __future__ import annotations

import argparse
import sys

from cyclerctl.cli.common import (
    EXIT_BY_STATUS,
    Subparsers,
    add_command,
    config_arg,
    db_arg,
    find_run,
    open_store,
    run_arg,
)
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(
        sub,
        "watch",
        _watch,
        "follow a run live: progress, ETA, step, cycle, V/I; exits with the run's exit code",
    )
    run_arg(c)
    c.add_argument(
        "--interval", type=float, default=0.5, help="seconds between two looks (default 0.5)"
    )
    c.add_argument(
        "--plain",
        action="store_true",
        help="a line per change, no redrawing (the default when the output is not a terminal)",
    )
    config_arg(c)
    db_arg(c)


def _watch(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.watch import follow

    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        live = sys.stdout.isatty() and not args.plain
        try:
            final = follow(
                store, run.id, sys.stdout, live=live, interval_s=max(args.interval, 0.05)
            )
        except KeyboardInterrupt:  # the watch stops; the run goes on
            print(f"\nstopped watching run {run.id}; it goes on (`cyclerctl watch {run.id}`)")
            return 0
    finally:
        store.close()
    return EXIT_BY_STATUS.get(final.status, 1)
