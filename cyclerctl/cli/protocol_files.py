"""`cyclerctl protocols import FILE` and `protocols export PROTOCOL --cell C --format F`:
protocols to and from EC-Lab settings, Neware step files, aurora-unicycler JSON and PyBaMM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cyclerctl.cli.common import BadInput, Subparsers, add_subcommand
from cyclerctl.cli.inputs import load_plan, protocol_args
from cyclerctl.config import Config
from cyclerctl.protocol_io.formats import EXPORT_FORMATS, IMPORT_SUFFIXES


def register(sub: Subparsers) -> None:
    c = add_subcommand(
        sub, "protocols", "import", _import,
        f"turn another tool's protocol ({', '.join(IMPORT_SUFFIXES)}) into a protocol file",
    )  # fmt: skip
    c.add_argument("file", help="an EC-Lab .mps, a Neware BTS .xml or an aurora-unicycler .json")
    c.add_argument(
        "-o", "--output", help="protocol file to write (default: print it); the cell hints "
        "the file holds go beside it as <stem>.cell.toml",
    )  # fmt: skip
    c = add_subcommand(
        sub, "protocols", "export", _export, "write a protocol for EC-Lab, Neware BTS or PyBaMM"
    )
    protocol_args(c)
    c.add_argument(
        "--format",
        required=True,
        choices=list(EXPORT_FORMATS),
        help="; ".join(f"{name}: {what}" for name, what in EXPORT_FORMATS.items()),
    )
    c.add_argument("-o", "--output", help="file to write (default: print it)")


def _import(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol_io import ProtocolIOError, import_protocol

    try:
        toml, hints = import_protocol(args.file)
    except ProtocolIOError as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise BadInput(f"{args.file}: {exc.strerror or exc}") from None
    if args.output is None:
        sys.stdout.write(toml)
        if hints is not None:
            print("\n# --- cell hints from the file (save as a cell file) ---", file=sys.stderr)
            sys.stderr.write(hints)
        return 0
    out = Path(args.output)
    out.write_text(toml, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    if hints is not None:
        cell = out.with_name(f"{out.stem}.cell.toml")
        cell.write_text(hints, encoding="utf-8")
        print(f"wrote {cell} (the cell as the file describes it: check it)", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol_io import ProtocolIOError, export_protocol_with_notes

    plan = load_plan(args)
    try:
        data, notes = export_protocol_with_notes(plan, args.format)
    except ProtocolIOError as exc:
        raise BadInput(str(exc)) from None
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.output is not None:
        out = Path(args.output)
        if isinstance(data, bytes):
            out.write_bytes(data)
        else:
            out.write_text(data, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    elif isinstance(data, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)
    return 0
