"""`cyclerctl tui`: the terminal UI, a client of the database like every other view."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import Subparsers, add_command, config_arg, db_arg
from cyclerctl.config import Config, database_url


def register(sub: Subparsers) -> None:
    c = add_command(sub, "tui", _tui, "the terminal UI: launch, watch and stop runs")
    c.add_argument("--read-only", action="store_true", help="watch only: no launch, pause, stop")
    config_arg(c)
    db_arg(c)


def _tui(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.tui.app import run_tui

    return run_tui(database_url(args.db, config), args.config, args.read_only)
