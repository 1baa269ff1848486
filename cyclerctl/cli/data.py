"""`cyclerctl export`, `report` and `import`: data out to other tools, and EC-Lab data in."""

from __future__ import annotations

import argparse
from pathlib import Path

from cyclerctl.cli.common import (
    BadInput,
    Subparsers,
    add_command,
    db_arg,
    find_run,
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

    c = add_command(sub, "import", _import, "bring an EC-Lab .mpr/.mpt file in as a run")
    c.add_argument("file", help="an EC-Lab .mpr or .mpt file")
    c.add_argument("--cell", required=True, help="a cell file, or a name from `cyclerctl cells`")
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
    from cyclerctl.ecimport import import_eclab
    from cyclerctl.protocol import load_cell

    path = Path(args.file)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    cell = load_cell(args.cell)
    store = open_store(args.db, config)
    try:
        try:
            run_id = import_eclab(
                store, path, cell, operator=default_operator(args.operator, config)
            )
        except ValueError as exc:
            raise BadInput(f"{path}: {exc}") from None
    finally:
        store.close()
    print(f"{path} → run {run_id}")
    return 0
