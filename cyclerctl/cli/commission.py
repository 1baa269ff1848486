"""`cyclerctl commission`: prove a channel on a dummy load before a cell is on it.

Exit 0 every line passed (or was skipped), 1 a line failed, 2 bad input — including a
channel that reads a cell's voltage, which is never driven.
"""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import (
    BadInput,
    Subparsers,
    add_command,
    json_arg,
    operator_arg,
    print_json,
)
from cyclerctl.config import Config, default_operator


def register(sub: Subparsers) -> None:
    c = add_command(
        sub, "commission", _commission, "prove an instrument channel on a dummy load (pass/fail)"
    )
    c.add_argument("--driver", required=True, help="sim, biologic, neware or scpi")
    c.add_argument("--address", help="the instrument's address (emulated: an in-process emulator)")
    c.add_argument("--channel", type=int, default=1, help="channel number, from 1")
    c.add_argument(
        "--dummy",
        required=True,
        help='the load on the channel: "R=1 kohm", "R=100 ohm ±1 %%, C=1 mF", "Rs=10 ohm, R=…"',
    )
    c.add_argument("--max-current", default="10 mA", help="never more than this (default 10 mA)")
    c.add_argument("--max-voltage", default="1 V", help="never more than this (default 1 V)")
    c.add_argument(
        "--speed",
        type=float,
        help="the instrument's clock runs N × the wall clock (emulators and the simulator, "
        "which otherwise runs in virtual time; hardware: leave out)",
    )
    c.add_argument(
        "--virtual-time", action="store_true", help="the instrument is an emulator in virtual time"
    )
    c.add_argument(
        "--miscale",
        help="emulated instruments only: report a deliberately wrong scale "
        "(current_mA, phase_degrees) to see the matching line fail",
    )
    c.add_argument("--db", help="keep the commissioning runs in this database (default: none)")
    operator_arg(c, "commissions it")
    json_arg(c)


def _commission(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.commission import DummyError, Limits, NotADummy, commission, parse_dummy
    from cyclerctl.instruments import Connection, open_channel
    from cyclerctl.protocol import parse_quantity
    from cyclerctl.protocol.compiler import cell_from_text

    try:
        dummy = parse_dummy(args.dummy)
        limits = Limits(
            parse_quantity(args.max_current, "current"), parse_quantity(args.max_voltage, "voltage")
        )
    except (DummyError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    if args.speed is not None and args.speed <= 0:
        raise BadInput(f"--speed: must be > 0, got {args.speed}")
    speed = args.speed or 1.0
    cell = cell_from_text(dummy.cell_toml(limits.voltage_V, limits.current_A), "--dummy")
    options: dict[str, object] = {"voltage_limit_V": limits.voltage_V, "speed": speed}
    if args.miscale:
        options["miscale"] = args.miscale
    connection = Connection(
        driver=args.driver,
        address=args.address,
        channel=args.channel,
        virtual_time=args.virtual_time,
    )
    try:
        setup, channel = open_channel(
            connection, cell, options, realtime=args.speed is not None, speed=speed
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    try:
        report = commission(
            channel,
            dummy,
            limits=limits,
            speed=speed,
            db_url=args.db,
            instrument=setup.instrument.identity.as_dict(),
            operator=default_operator(args.operator, config),
        )
    except NotADummy as exc:
        raise BadInput(f"{channel.name}: {exc}") from None
    finally:
        setup.close()
    if args.json:
        print_json(report.as_dict())
    else:
        print(report.table())
    return 0 if report.passed else 1
