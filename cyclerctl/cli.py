"""The ``cyclerctl`` command.

Exit codes: 0 done; 1 the run ended on a safety stop or a fault; 2 bad input (nothing was
written); 3 the run was stopped by the operator.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from cyclerctl import __version__
from cyclerctl.config import Config, ConfigError, database_url, default_operator, load_config
from cyclerctl.credentials import CredentialError, shown

EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 1


class BadInput(Exception):
    """Input the user must fix; printed as-is on stderr, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        config = load_config(args.config)
        return int(args.handler(args, config))
    except (ConfigError, CredentialError) as exc:
        return _bad(str(exc))
    except _hardware_error() as exc:
        return _bad(str(exc))
    except BadInput as exc:
        return _bad(str(exc))
    except _protocol_error() as exc:
        return _bad(str(exc))
    except BrokenPipeError:  # `cyclerctl runs | head`
        return 0
    except _database_error() as exc:
        from cyclerctl.store.access import refused_write

        if not refused_write(exc):
            raise
        reason = getattr(exc, "orig", exc)
        print(f"the database refused the change: this account may only read ({reason})",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    except (ConnectionError, TimeoutError, OSError) as exc:
        # an instrument or server that cannot be reached: say which, no traceback
        print(f"cannot reach the instrument: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE


def _database_error() -> type[Exception]:
    from sqlalchemy.exc import DBAPIError

    return DBAPIError


def _hardware_error() -> type[Exception]:
    from cyclerctl.hardware import HardwareInputError

    return HardwareInputError


def _protocol_error() -> type[Exception]:
    from cyclerctl.protocol import ProtocolError

    return ProtocolError


def _bad(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclerctl",
        description="Run battery test protocols on potentiostats and cyclers.",
    )
    p.add_argument("--version", action="version", version=f"cyclerctl {__version__}")
    p.add_argument(
        "--config", help="lab config file (default: $CYCLERCTL_CONFIG, ./cyclerctl.toml)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help, description=help)
        c.set_defaults(handler=handler)
        return c

    def protocol_args(c: argparse.ArgumentParser) -> None:
        c.add_argument("protocol", help="a protocol file, or a name from `cyclerctl protocols`")
        c.add_argument(
            "--cell", required=True, help="a cell file, or a name from `cyclerctl cells`"
        )
        c.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override a protocol parameter (repeatable), e.g. --set cycles=3",
        )

    def db_arg(c: argparse.ArgumentParser) -> None:
        c.add_argument(
            "--db", help="database URL (default: $CYCLERCTL_DB, config, sqlite:///cyclerctl.db)"
        )

    c = command("protocols", _cmd_protocols, "list the shipped protocol library")
    c.add_argument("--json", action="store_true")
    c = command("cells", _cmd_cells, "list the shipped cell files")
    c.add_argument("--json", action="store_true")
    c = command("schema", _cmd_schema, "print the JSON Schema of protocol (or cell) files")
    c.add_argument("--cell", action="store_true", help="the schema of cell files instead")

    def channel_arg(c: argparse.ArgumentParser) -> None:
        c.add_argument(
            "--channel",
            help="<instrument>:<n> of the config: also refuse what this channel must not run "
            "(its hard limits, its driver's range)",
        )
        c.add_argument("--config", default=argparse.SUPPRESS, help="lab config file")

    c = command("validate", _cmd_validate, "check a protocol with a cell, touch nothing")
    protocol_args(c)
    channel_arg(c)
    c.add_argument("--json", action="store_true")

    c = command("plan", _cmd_plan, "show the resolved step table and an estimated duration")
    protocol_args(c)
    channel_arg(c)
    c.add_argument("--json", action="store_true")

    c = command("run", _cmd_run, "run a protocol and log every point (simulator by default)")
    protocol_args(c)
    db_arg(c)
    c.add_argument("--operator", help="who runs it (default: config, $USER)")
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
    c.add_argument("--json", action="store_true", help="print the run and its results as JSON")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

    c = command("runs", _cmd_runs, "list runs in the database")
    db_arg(c)
    c.add_argument("--limit", type=int, default=None)
    c.add_argument("--json", action="store_true")

    c = command("show", _cmd_show, "one run: metadata, status, results")
    c.add_argument("run", help="run id or GUID")
    db_arg(c)
    c.add_argument("--json", action="store_true")

    c = command("analyze", _cmd_analyze, "recompute a run's results from its stored data")
    c.add_argument("run", help="run id or GUID")
    db_arg(c)
    c.add_argument("--json", action="store_true")

    c = command("emulate", _cmd_emulate, "serve a wire-level instrument emulator (dry runs)")
    c.add_argument("driver", help="neware, scpi, chamber (biologic is emulated in-process)")
    c.add_argument(
        "--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1, any port)"
    )
    c.add_argument("--cell", action="append", default=[], help="a cell per channel (repeatable)")
    c.add_argument("--virtual-time", action="store_true", help="advance when data is asked for")
    c.add_argument("--speed", type=float, default=1.0, help="real time × N")
    c.add_argument("--seed", type=int)

    c = command("probe", _cmd_probe, "identify an instrument: model, channels, capabilities")
    c.add_argument("address", help="the instrument's address")
    c.add_argument("--driver", required=True, help="biologic, neware, scpi or chamber")
    c.add_argument("--json", action="store_true")

    c = command("db", _cmd_db, "database maintenance")
    c.add_argument(
        "action",
        choices=["upgrade", "viewer"],
        help="upgrade: apply migrations; viewer ROLE: make a read-only role (PostgreSQL)",
    )
    c.add_argument("role", nargs="?", help="the viewer role's name (for `viewer`)")
    c.add_argument("--login", action="store_true", help="the viewer role may log in itself")
    db_arg(c)

    def config_arg(c: argparse.ArgumentParser) -> None:
        # also accepted after the command (`cyclerctl daemon --config lab.toml`)
        c.add_argument("--config", default=argparse.SUPPRESS, help="lab config file")

    c = command("daemon", _cmd_daemon, "run the scheduler for the config's instruments")
    config_arg(c)
    db_arg(c)

    c = command("submit", _cmd_submit, "queue a run for a channel (a daemon starts it)")
    protocol_args(c)
    c.add_argument("--channel", required=True, help="<instrument>:<n> as in the config, e.g. sim:1")
    c.add_argument("--operator", help="who submits it (default: config, $USER)")
    c.add_argument("--json", action="store_true")
    config_arg(c)
    db_arg(c)

    c = command("status", _cmd_status, "every channel: state, run, step, cycle, V, I, ETA")
    c.add_argument("--json", action="store_true")
    config_arg(c)
    db_arg(c)

    for kind, text in (
        ("pause", "pause a run at a safe point (the cell rests; resume continues the step)"),
        ("resume", "resume a paused run where it was"),
        ("stop", "stop a run (or take a queued one out of the queue)"),
    ):
        c = command(kind, _cmd_command, text)
        c.set_defaults(kind=kind)
        c.add_argument("run", help="run id or GUID")
        c.add_argument("--operator", help="who asks (default: config, $USER)")
        c.add_argument(
            "--wait", type=float, default=3.0, help="seconds to wait for the daemon (default 3)"
        )
        c.add_argument("--json", action="store_true")
        config_arg(c)
        db_arg(c)

    c = command("tui", _cmd_tui, "the terminal UI: launch, watch and stop runs")
    c.add_argument("--read-only", action="store_true", help="watch only: no launch, pause, stop")
    config_arg(c)
    db_arg(c)

    from cyclerctl.cli_data import add_commands

    add_commands(sub, db_arg)
    return p


def _cmd_tui(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.tui.app import run_tui

    return run_tui(database_url(args.db, config), args.config, args.read_only)


# -- library ---------------------------------------------------------------------------------


def _cmd_protocols(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import list_protocols

    return _print_library(list_protocols(), args.json)


def _cmd_cells(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import list_cells

    return _print_library(list_cells(), args.json)


def _print_library(entries: Sequence[Any], as_json: bool) -> int:
    if as_json:
        _print_json(
            [{"name": e.name, "description": e.description, "path": str(e.path)} for e in entries]
        )
        return 0
    width = max((len(e.name) for e in entries), default=4)
    for e in entries:
        print(f"{e.name:<{width}}  {e.description}")
    return 0


def _cmd_schema(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import cell_json_schema, protocol_json_schema

    _print_json(cell_json_schema() if args.cell else protocol_json_schema())
    return 0


# -- validate / plan -------------------------------------------------------------------------


def _load(args: argparse.Namespace, channel: Any = None) -> Any:
    from cyclerctl.protocol import load_plan

    return load_plan(args.protocol, args.cell, _overrides(args.overrides), channel=channel)


def _load_for_channel(args: argparse.Namespace, config: Config) -> Any:
    """The plan; with ``--channel``, checked against that channel's limits and range too."""
    plan = _load(args)
    if args.channel is None:
        return plan
    return _load(args, _channel_limits(args.channel.strip(), config, plan))


def _channel_limits(channel: str, config: Config, plan: Any) -> Any:
    """The config's hard limits of ``channel``, narrowed by its driver's declared range."""
    from cyclerctl.channel_limits import channel_limits

    if config.path is None:
        raise BadInput(f"--channel: {channel!r}: give the config that names it (--config lab.toml)")
    try:
        return channel_limits(config, channel, plan)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _overrides(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"--set: {pair!r}: expected NAME=VALUE, e.g. --set cycles=3")
        out[name.strip()] = value.strip()
    return out


def _cmd_validate(args: argparse.Namespace, config: Config) -> int:
    plan = _load_for_channel(args, config)
    if args.json:
        _print_json(
            {
                "ok": True,
                "protocol": plan.protocol_name,
                "cell": plan.cell.name,
                "steps": len(plan.steps),
                "estimated_duration_s": plan.estimated_duration_s,
                "parameters": dict(plan.parameters),
            }
        )
    else:
        print(f"ok: {plan.protocol_name} with {plan.cell.name}: {len(plan.steps)} steps")
    return 0


def _cmd_plan(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import plan_to_json, render_plan_table

    plan = _load_for_channel(args, config)
    if args.json:
        _print_json(plan_to_json(plan))
    else:
        print(render_plan_table(plan))
    return 0


# -- run -------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.engine.compat import misfits
    from cyclerctl.engine.session import EXIT_CODE, execute_run
    from cyclerctl.instruments import Connection, open_setup
    from cyclerctl.progress import Progress

    plan = _load(args)  # every input error surfaces here, before the database is touched
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
        store = _open_store(args.db, config)
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
        _print_json(_run_json(report.run, results))
    else:
        progress.finished(report.run, results)
    return EXIT_CODE.get(report.run.status, 1)


# -- runs / show / db ------------------------------------------------------------------------


def _cmd_runs(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_runs

    store = _open_store(args.db, config)
    try:
        runs = store.list_runs(limit=args.limit)
    finally:
        store.close()
    if args.json:
        _print_json([r.as_dict() for r in runs])
    else:
        print(format_runs(runs))
    return 0


def _cmd_show(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_run

    store = _open_store(args.db, config)
    try:
        run = _find_run(store, args.run)
        results = store.results(run.id)
        steps = store.steps(run.id)
        events = store.events(run.id)
    finally:
        store.close()
    if args.json:
        _print_json(_run_json(run, results))
    else:
        print(format_run(run, results, steps, events))
    return 0


def _cmd_analyze(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.progress import format_results
    from cyclerctl.reanalysis import reanalyse

    store = _open_store(args.db, config)
    try:
        run = _find_run(store, args.run)
        analysis = reanalyse(store, run.id)
        results = store.results(run.id)
    finally:
        store.close()
    if args.json:
        _print_json(_run_json(run, results))
    else:
        print(f"run {run.id}: {analysis.version}")
        for line in format_results(results):
            print(line)
    return 0


def _cmd_emulate(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.hardware import emulate

    return emulate(args)


def _cmd_probe(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.hardware import probe

    return probe(args)


def _find_run(store: Any, key: str) -> Any:
    run = None
    if key.isdigit():
        run = store.get_run(int(key))
    else:
        run = next((r for r in store.list_runs() if r.guid == key), None)
    if run is None:
        raise BadInput(f"run {key!r}: no such run in {store.url}")
    return run


def _cmd_db(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.store.access import AccessError, grant_viewer

    if args.action == "viewer" and not args.role:
        raise BadInput("db viewer: name the role, e.g. `cyclerctl db viewer lab_viewer`")
    store = _open_store(args.db, config)
    try:
        if args.action == "viewer":
            try:
                grant_viewer(store.engine, args.role, login=args.login)
            except AccessError as exc:
                raise BadInput(f"db viewer: {exc}") from None
            print(f"{store.url}: role {args.role} may read every table and change nothing")
        else:
            print(f"{store.url}: schema is up to date")
    finally:
        store.close()
    return 0


# -- daemon, queue and commands ---------------------------------------------------------------


def _cmd_daemon(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.daemon import run_daemon

    if config.path is None:
        raise BadInput(
            "daemon: give the lab config file with its [[instruments]] (--config lab.toml; "
            "see config.example.toml)"
        )
    if not config.instruments:
        raise BadInput(f"{config.path}: instruments: the daemon needs at least one [[instruments]]")
    from cyclerctl.store import WriterError

    store = _open_store(args.db, config)
    try:
        code = run_daemon(config, store)
    finally:
        try:
            store.close()
        except WriterError as exc:  # the database stayed unwritable to the end
            print(f"daemon: points not stored: {exc}", file=sys.stderr)
            code = EXIT_UNREACHABLE
    return code


def _cmd_submit(args: argparse.Namespace, config: Config) -> int:
    import socket

    plan = _load(args)  # every input error surfaces here, before anything is queued
    channel = args.channel.strip()
    if not channel:
        raise BadInput("--channel: give the channel as <instrument>:<n>, e.g. sim:1")
    if config.channel_names:  # checked against what the channel allows, with file:line
        plan = _load(args, _channel_limits(channel, config, plan))
    operator = default_operator(args.operator, config)
    store = _open_store(args.db, config)
    try:
        run = store.submit_run(
            plan,
            operator=operator,
            channel=channel,
            overrides=_overrides(args.overrides),
            host=socket.gethostname(),
        )
    finally:
        store.close()
    if args.json:
        _print_json(run.as_dict())
    else:
        print(
            f"run {run.id} queued on {channel}: {plan.protocol_name} with {plan.cell.name} "
            f"(by {operator}); `cyclerctl status` shows it"
        )
    return 0


def _cmd_status(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.daemon.status import format_status, status_rows

    store = _open_store(args.db, config)
    try:
        channels, daemons = status_rows(store, config)
    finally:
        store.close()
    if args.json:
        _print_json({"channels": channels, "daemons": daemons})
    else:
        print(format_status(channels, daemons))
    return 0


def _cmd_command(args: argparse.Namespace, config: Config) -> int:
    import socket
    import time

    kind = args.kind
    operator = default_operator(args.operator, config)
    store = _open_store(args.db, config)
    try:
        run = _find_run(store, args.run)
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
        _print_json({**record.as_dict(), "acknowledged": acknowledged})
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


def _open_store(cli_db: str | None, config: Config) -> Any:
    from sqlalchemy.exc import ArgumentError, OperationalError

    from cyclerctl.store import Store

    url = database_url(cli_db, config)
    tuning: dict[str, Any] = {}
    if config.database_backlog_rows is not None:
        tuning["backlog_rows"] = config.database_backlog_rows
    if config.database_retry_max_s is not None:
        tuning["retry_max_s"] = config.database_retry_max_s
    try:
        return Store.open(url, **tuning)
    except (ArgumentError, OperationalError, ValueError) as exc:
        raise BadInput(f"--db: cannot open database {shown(url)!r}: {exc}") from None


def _run_json(run: Any, results: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": run.as_dict(),
        "results": {
            name: (r.value if r.value is not None else r.data) for name, r in results.items()
        },
    }


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
