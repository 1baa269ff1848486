"""`cyclerctl export`, `report` and `import`: data out to other tools, and EC-Lab data in."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_commands(sub: Any, db_arg: Any) -> None:
    """Register the data commands on the CLI's subparsers."""
    c = sub.add_parser("export", help="write a run as BDF csv, EC-Lab mpt or parquet")
    c.set_defaults(handler=_cmd_export)
    c.add_argument("run", help="run id or GUID")
    c.add_argument("--format", required=True, choices=["csv", "mpt", "parquet"])
    c.add_argument("-o", "--output", required=True, help="file to write")
    db_arg(c)

    c = sub.add_parser("report", help="PNG figures and an index.html for a run")
    c.set_defaults(handler=_cmd_report)
    c.add_argument("run", help="run id or GUID")
    c.add_argument("-o", "--output", required=True, help="folder to write")
    db_arg(c)

    c = sub.add_parser("import", help="bring an EC-Lab .mpr/.mpt file in as a run")
    c.set_defaults(handler=_cmd_import)
    c.add_argument("file", help="an EC-Lab .mpr or .mpt file")
    c.add_argument("--cell", required=True, help="a cell file, or a name from `cyclerctl cells`")
    c.add_argument("--operator", help="who imports it (default: config, $USER)")
    db_arg(c)


def _cmd_export(args: argparse.Namespace, config: Any) -> int:
    from cyclerctl.cli import _find_run, _open_store
    from cyclerctl.export import export_run

    store = _open_store(args.db, config)
    try:
        run = _find_run(store, args.run)
        path = export_run(store, run.id, args.format, Path(args.output))
    finally:
        store.close()
    print(f"run {run.id} → {path}")
    return 0


def _cmd_report(args: argparse.Namespace, config: Any) -> int:
    from cyclerctl.cli import _find_run, _open_store
    from cyclerctl.report import write_report

    store = _open_store(args.db, config)
    try:
        run = _find_run(store, args.run)
        index = write_report(store, run.id, Path(args.output))
    finally:
        store.close()
    print(f"run {run.id} → {index}")
    return 0


def _cmd_import(args: argparse.Namespace, config: Any) -> int:
    from cyclerctl.cli import BadInput, _open_store
    from cyclerctl.config import default_operator
    from cyclerctl.ecimport import import_eclab
    from cyclerctl.protocol import load_cell

    path = Path(args.file)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    cell = load_cell(args.cell)
    store = _open_store(args.db, config)
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
