"""`cyclerctl run`: one protocol on one channel, in this process, every point logged."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import (
    EXIT_BY_STATUS,
    BadInput,
    Subparsers,
    add_command,
    db_arg,
    json_arg,
    open_store,
    operator_arg,
    print_json,
    run_json,
)
from cyclerctl.cli.inputs import load_plan, protocol_args
from cyclerctl.config import Config, default_operator


def register(sub: Subparsers) -> None:
    c = add_command(sub, "run", _run, "run a protocol and log every point (simulator by default)")
    protocol_args(c)
    db_arg(c)
    operator_arg(c, "runs it")
    c.add_argument("--driver", default="sim", help="sim (default), biologic, neware or scpi")
    c.add_argument("--address", help="the instrument's address (VISA resource, host:port, …)")
    c.add_argument("--channel", type=int, default=1, help="channel number, from 1")
    c.add_argument(
        "--virtual-time",
        action="store_true",
        help="the instrument is an emulator in virtual time (cyclerctl emulate --virtual-time)",
    )
    c.add_argument("--chamber-address", help="serial port of the temperature chamber")
    c.add_argument("--seed", type=int, help="noise seed (default: the cell's [sim] seed)")
    c.add_argument(
        "--realtime", action="store_true", help="follow the wall clock instead of virtual time"
    )
    c.add_argument("--speed", type=float, help="real time × N (implies --realtime)")
    json_arg(c, "print the run and its results as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def _run(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.engine.compat import misfits
    from cyclerctl.engine.session import execute_run
    from cyclerctl.instruments import Connection, open_setup
    from cyclerctl.progress import Progress

    plan = load_plan(args)  # every input error surfaces here, before the database is touched
    if args.speed is not None and args.speed <= 0:
        raise BadInput(f"--speed: must be > 0, got {args.speed}")
    realtime = args.realtime or args.speed is not None
    connection = Connection(
        driver=args.driver,
        address=args.address,
        channel=args.channel,
        virtual_time=args.virtual_time,
        chamber_address=args.chamber_address,
    )
    try:
        setup, channel = open_setup(
            plan, connection, seed=args.seed, realtime=realtime, speed=args.speed or 1.0
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    instrument = setup.instrument
    try:
        problems = misfits(
            plan, channel.capabilities, channel.name, has_chamber=setup.chamber is not None
        )
        if problems:
            raise BadInput("\n".join(f"{plan.protocol_source}: {p}" for p in problems))
        store = open_store(args.db, config)
        progress = Progress(plan, quiet=args.quiet or args.json)
        try:
            report = execute_run(
                store,
                plan,
                channel,
                instrument=instrument.identity.as_dict(),
                chamber=setup.chamber,
                operator=default_operator(args.operator, config),
                on_step_end=progress.step_ended,
                on_start=progress.started,
            )
            results = store.results(report.run.id)
        finally:
            store.close()
    finally:
        setup.close()
    if args.json:
        print_json(run_json(report.run, results))
    else:
        progress.finished(report.run, results)
    return EXIT_BY_STATUS.get(report.run.status, 1)
