"""`cyclerctl daemon`, `submit`, `status`, `pause`, `resume` and `stop`: the queue a daemon serves.

The CLI never drives a daemon's channel itself: it writes the run or the command to the
database and the daemon that owns the channel acts on it.
"""

from __future__ import annotations

import argparse
import sys

from cyclerctl.cli.common import (
    EXIT_UNREACHABLE,
    BadInput,
    Subparsers,
    add_command,
    config_arg,
    db_arg,
    find_run,
    json_arg,
    open_store,
    operator_arg,
    print_json,
    run_arg,
)
from cyclerctl.cli.inputs import channel_limits, load_plan, overrides, protocol_args
from cyclerctl.config import Config, default_operator

# the commands a running daemon takes for a run, with their line in `cyclerctl --help`
RUN_COMMANDS = (
    ("pause", "pause a run at a safe point (the cell rests; resume continues the step)"),
    ("resume", "resume a paused run where it was"),
    ("stop", "stop a run (or take a queued one out of the queue)"),
)


def register(sub: Subparsers) -> None:
    c = add_command(sub, "daemon", _daemon, "run the scheduler for the config's instruments")
    config_arg(c)
    db_arg(c)
    service = c.add_mutually_exclusive_group()
    service.add_argument(
        "--check-config",
        action="store_true",
        help="check the config, reach the database, list the instruments, then exit (0 or 2)",
    )
    service.add_argument(
        "--print-systemd-unit",
        action="store_true",
        help="print a systemd unit that runs this daemon as you (see README, Lab PC set-up)",
    )

    c = add_command(sub, "submit", _submit, "queue a run for a channel (a daemon starts it)")
    protocol_args(c)
    c.add_argument("--channel", required=True, help="<instrument>:<n> as in the config, e.g. sim:1")
    operator_arg(c, "submits it")
    json_arg(c)
    config_arg(c)
    db_arg(c)

    c = add_command(sub, "status", _status, "every channel: state, run, step, cycle, V, I, ETA")
    c.add_argument(
        "--check",
        action="store_true",
        help="for monitoring (Nagios style): one line per problem (a daemon not responding, "
        "a channel in alarm), exit 1 if any, else one OK line and exit 0",
    )
    json_arg(c)
    config_arg(c)
    db_arg(c)

    for kind, text in RUN_COMMANDS:
        c = add_command(sub, kind, _command, text)
        c.set_defaults(kind=kind)
        run_arg(c)
        operator_arg(c, "asks")
        c.add_argument(
            "--wait", type=float, default=3.0, help="seconds to wait for the daemon (default 3)"
        )
        json_arg(c)
        config_arg(c)
        db_arg(c)


def _daemon(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.daemon import run_daemon
    from cyclerctl.store import WriterError

    if config.path is None:
        raise BadInput(
            "daemon: give the lab config file with its [[instruments]] (--config lab.toml; "
            "see config.example.toml)"
        )
    if not config.instruments:
        raise BadInput(f"{config.path}: instruments: the daemon needs at least one [[instruments]]")
    if args.print_systemd_unit:
        return _print_unit(args, config)
    if args.check_config:
        return _check_config(args, config)
    store = open_store(args.db, config)
    try:
        code = run_daemon(config, store)
    finally:
        try:
            store.close()
        except WriterError as exc:  # the database stayed unwritable to the end
            print(f"daemon: points not stored: {exc}", file=sys.stderr)
            code = EXIT_UNREACHABLE
    return code


def _print_unit(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl import system
    from cyclerctl.daemon.service import systemd_unit

    if system.IS_WINDOWS:
        raise BadInput(f"--print-systemd-unit: {system.WINDOWS_SERVICE_NOTE}")
    print(
        systemd_unit(
            config,
            executable=system.cyclerctl_executable(),
            user=system.current_user(),
            db=args.db,
        ),
        end="",
    )
    return 0


def _check_config(args: argparse.Namespace, config: Config) -> int:
    """The config was read (its errors exit 2 before this); reach the database, list."""
    from cyclerctl.daemon.service import check_lines
    from cyclerctl.notify.targets import NotifySecretError

    for target in config.notify:
        try:
            target.resolved()
        except NotifySecretError as exc:
            raise BadInput(f"{config.path}: {exc}") from None
    store = open_store(args.db, config)  # BadInput (exit 2) when it cannot be reached
    try:
        store.daemons()  # a real query: the server answers and the schema is there
        url = store.url
    finally:
        store.close()
    for line in check_lines(config, url, schema_ok=True):
        print(line)
    if config.notify:
        from cyclerctl.notify.send import NotifyUnavailable, load_apprise

        try:
            load_apprise()
        except NotifyUnavailable as exc:
            raise BadInput(f"{config.path}: [[notify]]: {exc}") from None
    return 0


def _submit(args: argparse.Namespace, config: Config) -> int:
    import socket

    plan = load_plan(args)  # every input error surfaces here, before anything is queued
    channel = args.channel.strip()
    if not channel:
        raise BadInput("--channel: give the channel as <instrument>:<n>, e.g. sim:1")
    if config.channel_names:  # checked against what the channel allows, with file:line
        plan = load_plan(args, channel_limits(channel, config, plan))
    operator = default_operator(args.operator, config)
    store = open_store(args.db, config)
    try:
        run = store.submit_run(
            plan,
            operator=operator,
            channel=channel,
            overrides=overrides(args.overrides),
            host=socket.gethostname(),
        )
    finally:
        store.close()
    if args.json:
        print_json(run.as_dict())
    else:
        print(
            f"run {run.id} queued on {channel}: {plan.protocol_name} with {plan.cell.name} "
            f"(by {operator}); `cyclerctl status` shows it"
        )
    return 0


def _status(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.daemon.status import format_status, problems, status_rows

    store = open_store(args.db, config)
    try:
        channels, daemons = status_rows(store, config)
    finally:
        store.close()
    if args.check:
        found = problems(channels, daemons, config)
        if args.json:
            print_json({"ok": not found, "problems": found})
        else:
            for line in found:
                print(f"CRITICAL: {line}")
            if not found:
                alive = sum(1 for d in daemons if d["alive"])
                print(f"OK: {len(channels)} channel(s), none in alarm; {alive} daemon(s) alive")
        return 1 if found else 0
    if args.json:
        print_json({"channels": channels, "daemons": daemons})
    else:
        print(format_status(channels, daemons))
    return 0


def _command(args: argparse.Namespace, config: Config) -> int:
    """pause/resume/stop: the command recorded, then up to ``--wait`` s for the daemon's answer."""
    import socket
    import time

    kind = args.kind
    operator = default_operator(args.operator, config)
    store = open_store(args.db, config)
    try:
        run = find_run(store, args.run)
        try:
            command_id = store.issue_command(
                run.id, kind, operator=operator, host=socket.gethostname()
            )
        except (KeyError, ValueError) as exc:
            raise BadInput(f"{kind}: {exc.args[0] if exc.args else exc}") from None
        issued = time.monotonic()
        while True:
            record = next(c for c in store.commands(run.id) if c.id == command_id)
            if record.acknowledged_at is not None or time.monotonic() - issued >= args.wait:
                break
            time.sleep(0.1)
    finally:
        store.close()
    acknowledged = record.acknowledged_at is not None
    ok = acknowledged and (record.result or "").startswith("ok")
    if args.json:
        print_json({**record.as_dict(), "acknowledged": acknowledged})
    elif acknowledged:
        by = f" by {record.acknowledged_by}" if record.acknowledged_by else ""
        print(f"run {run.id}: {kind} (command {command_id}, {operator}) acknowledged{by}: "
              f"{record.result}")  # fmt: skip
    else:
        print(
            f"run {run.id}: {kind} recorded (command {command_id}, {operator}) but not "
            f"acknowledged within {args.wait:g} s: is the daemon that owns the run running?"
        )
    return 0 if ok else 1
