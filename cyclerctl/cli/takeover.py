"""`cyclerctl resume RUN` for an orphaned run: take it over and drive it here, in the
foreground, from its last checkpoint — the same resume rules as a daemon's adoption
(cyclerctl.engine.resume: the step re-entered with its elapsed time and charge, seq going
on after the last stored point). The plan is compiled again from the protocol and cell
text stored with the run, as the daemon does, and must match the stored hash.
"""

from __future__ import annotations

import argparse
from typing import Any

from cyclerctl.cli.common import EXIT_BY_STATUS, BadInput, print_json, run_json
from cyclerctl.config import INSTRUMENT_DRIVERS, Config


def add_takeover_args(c: argparse.ArgumentParser) -> None:
    """Options used only when the run is orphaned and is taken over in this process."""
    g = c.add_argument_group("taking over an orphaned run in this process")
    g.add_argument("--driver", help="default: the run's channel prefix (sim:1 → sim)")
    g.add_argument("--address", help="the instrument's address (VISA resource, host:port, …)")
    g.add_argument("--channel", type=int, help="channel number (default: the run's)")
    g.add_argument("--virtual-time", action="store_true", help="the emulator is in virtual time")
    g.add_argument("--seed", type=int, help="simulator noise seed")
    g.add_argument("--realtime", action="store_true", help="follow the wall clock")
    g.add_argument("--speed", type=float, help="real time × N (implies --realtime)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def take_over(args: argparse.Namespace, config: Config, store: Any, run: Any) -> int:
    """Adopt the orphaned ``run`` for this process and drive it to its end; the exit code."""
    from cyclerctl.engine.compat import misfits
    from cyclerctl.engine.resume import load_resume_point
    from cyclerctl.engine.session import drive_run
    from cyclerctl.foreground import owning
    from cyclerctl.host_os import stop_on_signals
    from cyclerctl.instruments import Connection, open_setup
    from cyclerctl.progress import Progress

    plan = _stored_plan(store, run)
    prefix, _, number = run.channel.rpartition(":")
    driver = args.driver or (prefix if prefix in INSTRUMENT_DRIVERS else "sim")
    if args.speed is not None and args.speed <= 0:
        raise BadInput(f"--speed: must be > 0, got {args.speed}")
    connection = Connection(
        driver=driver,
        address=args.address,
        channel=args.channel or (int(number) if number.isdigit() else 1),
        virtual_time=args.virtual_time,
    )
    try:
        setup, channel = open_setup(
            plan,
            connection,
            seed=args.seed,
            realtime=args.realtime or args.speed is not None,
            speed=args.speed or 1.0,
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    stale = config.daemon.stale_after_s
    try:
        problems = misfits(
            plan, channel.capabilities, run.channel, has_chamber=setup.chamber is not None
        )
        if problems:
            raise BadInput("\n".join(f"run {run.id}: {p}" for p in problems))
        progress = Progress(plan, quiet=args.quiet or args.json)
        with owning(store, run.channel, every_s=config.daemon.heartbeat_s) as owner:
            dead = [run.daemon] if run.daemon else []
            if not store.adopt(run.id, owner, stale_after_s=stale, dead=dead):
                raise BadInput(f"resume: run {run.id} was taken over or ended meanwhile")
            for name in dead:  # its process is gone: its row only confused `status`
                store.forget_daemon(name)
            point = load_resume_point(store, run.id)
            if run.status == "paused":  # the operator asked to resume it
                store.set_status(run.id, "running")
            where = "from its start" if point is None else f"after seq {point.start_seq}"
            if not args.quiet and not args.json:
                print(f"run {run.id}: taken over from {run.daemon} on {run.channel}, "
                      f"resuming {where}")  # fmt: skip
            with stop_on_signals():
                report = drive_run(
                    store,
                    run,
                    plan,
                    channel,
                    chamber=setup.chamber,
                    resume=point,
                    on_step_end=progress.step_ended,
                )
        results = store.results(run.id)
    finally:
        setup.close()
    if args.json:
        print_json(run_json(report.run, results))
    else:
        progress.finished(report.run, results)
    return EXIT_BY_STATUS.get(report.run.status, 1)


def _stored_plan(store: Any, run: Any) -> Any:
    from cyclerctl.protocol.compiler import plan_from_texts

    snapshot = store.run_snapshot(run.id)
    if snapshot is None:
        raise BadInput(f"run {run.id} is not in the database")
    cell = snapshot.get("cell") or {}
    plan = plan_from_texts(
        snapshot["protocol_text"],
        snapshot["cell_text"],
        run.overrides,
        protocol_source=run.protocol_source,
        cell_source=str(cell.get("source") or run.cell_name),
    )
    if plan.protocol_sha256 != run.protocol_sha256:
        raise BadInput(f"run {run.id}: the stored protocol text does not match its hash")
    return plan
