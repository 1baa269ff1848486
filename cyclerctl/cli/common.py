"""What every command of the CLI shares: bad input, the database, run lookup, options, JSON.

Command modules import from here and nowhere else in ``cyclerctl.cli``, so the package's
imports stay one-way: ``cyclerctl.cli`` → command module → ``common``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from cyclerctl.config import Config, database_url
from cyclerctl.credentials import shown

EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 1
#: A finished run's exit code by its final status (`run`, `watch`, `resume`): the CLI's own
#: table, so that a command that only reads runs (`watch`) does not import the engine.
EXIT_BY_STATUS = {"completed": 0, "safety_stop": 1, "failed": 1, "stopped": 3, "interrupted": 3}

Subparsers = Any  # argparse's _SubParsersAction, which it does not export
Handler = Callable[[argparse.Namespace, Config], int]


class BadInput(Exception):
    """Input the user must fix; printed as-is on stderr, exit code 2."""


def add_command(sub: Subparsers, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    """Register command ``name``: ``help`` is its line in ``cyclerctl --help`` and its own."""
    c: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    c.set_defaults(handler=handler)
    return c


def add_subcommand(
    sub: Subparsers, parent: str, name: str, handler: Handler, help: str
) -> argparse.ArgumentParser:
    """Register ``cyclerctl PARENT NAME`` (e.g. `protocols import`) from another module.

    ``PARENT`` keeps working alone (`cyclerctl protocols --json`); its module must come before
    this one in ``cyclerctl.cli.COMMANDS``.
    """
    above: argparse.ArgumentParser = sub.choices[parent]
    # argparse keeps a parser's subcommands only among its actions: reuse them, else add them
    nested = next((a for a in above._actions if isinstance(a, argparse._SubParsersAction)), None)
    if nested is None:
        nested = above.add_subparsers(dest=f"{parent}_command", metavar="COMMAND")
    return add_command(nested, name, handler, help)


def db_arg(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "--db", help="database URL (default: $CYCLERCTL_DB, config, sqlite:///cyclerctl.db)"
    )


def config_arg(c: argparse.ArgumentParser) -> None:
    """``--config`` after the command too (`cyclerctl daemon --config lab.toml`).

    SUPPRESS keeps the value given before the command when none is given after it.
    """
    c.add_argument("--config", default=argparse.SUPPRESS, help="lab config file")


def json_arg(c: argparse.ArgumentParser, help: str | None = None) -> None:
    c.add_argument("--json", action="store_true", help=help)


def run_arg(c: argparse.ArgumentParser) -> None:
    c.add_argument("run", help="run id or GUID")


def operator_arg(c: argparse.ArgumentParser, who: str) -> None:
    c.add_argument("--operator", help=f"who {who} (default: config, $USER)")


def open_store(cli_db: str | None, config: Config) -> Any:
    """The database of ``--db`` (or the config's), schema up to date; BadInput if it cannot open."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from cyclerctl.store import Store

    url = database_url(cli_db, config)
    tuning: dict[str, Any] = {}
    if config.database_backlog_rows is not None:
        tuning["backlog_rows"] = config.database_backlog_rows
    if config.database_retry_max_s is not None:
        tuning["retry_max_s"] = config.database_retry_max_s
    try:
        return Store.open(url, **tuning)
    except (ArgumentError, OperationalError, ValueError) as exc:
        raise BadInput(f"--db: cannot open database {shown(url)!r}: {exc}") from None


def find_run(store: Any, key: str) -> Any:
    """The run with id or GUID ``key``; BadInput if the database has none."""
    run = None
    if key.isdigit():
        run = store.get_run(int(key))
    else:
        run = next((r for r in store.list_runs() if r.guid == key), None)
    if run is None:
        raise BadInput(f"run {key!r}: no such run in {store.url}")
    return run


def run_json(run: Any, results: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": run.as_dict(),
        "results": {
            name: (r.value if r.value is not None else r.data) for name, r in results.items()
        },
    }


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
