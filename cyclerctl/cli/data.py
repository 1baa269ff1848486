"""`cyclerctl export`, `report` and `import`: data out to other tools, and every cycler's
files in (Neware, Arbin, Maccor, EC-Lab, BDF: cyclerctl.readers)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cyclerctl.cli.common import (
    Subparsers,
    add_command,
    db_arg,
    find_run,
    json_arg,
    open_store,
    operator_arg,
    run_arg,
)
from cyclerctl.config import Config, default_operator
from cyclerctl.export.formats import FORMATS


def register(sub: Subparsers) -> None:
    c = add_command(sub, "export", _export, "write a run as BDF csv, EC-Lab mpt or parquet")
    run_arg(c)
    c.add_argument("--format", required=True, choices=FORMATS)
    c.add_argument("-o", "--output", required=True, help="file to write")
    db_arg(c)

    c = add_command(sub, "report", _report, "PNG figures and an index.html for a run")
    run_arg(c)
    c.add_argument("-o", "--output", required=True, help="folder to write")
    db_arg(c)

    c = add_command(
        sub, "import", _import, "bring cyclers' files in as runs (files or folders, recursively)"
    )
    c.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="Neware .ndax/.nda, Arbin .res, Maccor .0NN, EC-Lab .mpr/.mpt, BDF .csv/.parquet, "
        "or a folder of them",
    )  # fmt: skip
    c.add_argument(
        "--cell", help="a cell file or library name: what the files do not say (mass, area)"
    )
    c.add_argument("--force", action="store_true", help="import a file already imported again")
    json_arg(c, "one JSON line per file")
    operator_arg(c, "imports it")
    db_arg(c)


def _export(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.export import export_run

    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        path = export_run(store, run.id, args.format, Path(args.output))
    finally:
        store.close()
    print(f"run {run.id} → {path}")
    return 0


def _report(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.report import write_report

    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        index = write_report(store, run.id, Path(args.output))
    finally:
        store.close()
    print(f"run {run.id} → {index}")
    return 0


def _import(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import load_cell
    from cyclerctl.readers.console import run_import

    cell = load_cell(args.cell) if args.cell else None
    store = open_store(args.db, config)
    try:
        return run_import(
            store,
            args.paths,
            cell,
            force=args.force,
            as_json=args.json,
            operator=default_operator(args.operator, config),
        )
    finally:
        store.close()
