"""`cyclerctl protocols`, `cells` and `schema`: what the shipped library holds."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from cyclerctl.cli.common import Subparsers, add_command, json_arg, print_json
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(sub, "protocols", _protocols, "list the shipped protocol library")
    json_arg(c)
    c = add_command(sub, "cells", _cells, "list the shipped cell files")
    json_arg(c)
    c = add_command(sub, "schema", _schema, "print the JSON Schema of protocol (or cell) files")
    c.add_argument("--cell", action="store_true", help="the schema of cell files instead")


def _protocols(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import list_protocols

    return _print_library(list_protocols(), args.json)


def _cells(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import list_cells

    return _print_library(list_cells(), args.json)


def _print_library(entries: Sequence[Any], as_json: bool) -> int:
    if as_json:
        print_json(
            [{"name": e.name, "description": e.description, "path": str(e.path)} for e in entries]
        )
        return 0
    width = max((len(e.name) for e in entries), default=4)
    for e in entries:
        print(f"{e.name:<{width}}  {e.description}")
    return 0


def _schema(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import cell_json_schema, protocol_json_schema

    print_json(cell_json_schema() if args.cell else protocol_json_schema())
    return 0
