"""`cyclerctl emulate` and `probe`: a lab's first steps with an instrument (cyclerctl.hardware)."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import Subparsers, add_command, json_arg, print_json
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(sub, "emulate", _emulate, "serve a wire-level instrument emulator (dry runs)")
    c.add_argument("driver", help="neware, scpi, chamber (biologic is emulated in-process)")
    c.add_argument(
        "--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1, any port)"
    )
    c.add_argument("--cell", action="append", default=[], help="a cell per channel (repeatable)")
    c.add_argument("--virtual-time", action="store_true", help="advance when data is asked for")
    c.add_argument("--speed", type=float, default=1.0, help="real time × N")
    c.add_argument("--seed", type=int)

    c = add_command(sub, "probe", _probe, "identify an instrument: model, channels, capabilities")
    c.add_argument("address", help="the instrument's address")
    c.add_argument("--driver", required=True, help="biologic, neware, scpi or chamber")
    json_arg(c)


def _emulate(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.hardware import emulate

    return emulate(
        args.driver,
        args.listen,
        args.cell,
        virtual_time=args.virtual_time,
        speed=args.speed,
        seed=args.seed,
    )


def _probe(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.hardware import print_probe, probe

    info = probe(args.driver, args.address)
    if args.json:
        print_json(info)
    else:
        print_probe(info)
    return 0
