"""`cyclerctl notify` (the config's [[notify]] targets) and `notify test` (a message to each)."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import (
    EXIT_UNREACHABLE,
    BadInput,
    Subparsers,
    add_command,
    add_subcommand,
    config_arg,
)
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(sub, "notify", _list, "the config's [[notify]] targets, secrets as ***")
    config_arg(c)
    c = add_subcommand(
        sub, "notify", "test", _test, "send a test message to every [[notify]] target"
    )
    config_arg(c)


def _targets(config: Config) -> None:
    if not config.notify:
        where = config.path or "no config file (--config lab.toml)"
        raise BadInput(f"{where}: no [[notify]] targets (see config.example.toml)")


def _list(args: argparse.Namespace, config: Config) -> int:
    _targets(config)
    for target in config.notify:
        only = f"  channels {', '.join(target.channels)}" if target.channels else ""
        print(f"{target.shown}  on {', '.join(target.on)}{only}")
    return 0


def _test(args: argparse.Namespace, config: Config) -> int:
    import socket

    from cyclerctl.notify import AppriseSender, NotifyUnavailable, send_test

    _targets(config)
    try:
        sender = AppriseSender()
    except NotifyUnavailable as exc:
        raise BadInput(str(exc)) from None
    results = send_test(config.notify, sender, host=socket.gethostname())
    for target, error in results:
        print(f"{target}: {'sent' if error is None else 'FAILED: ' + error}")
    failed = sum(error is not None for _, error in results)
    if failed:
        print(f"{failed} of {len(results)} target(s) failed")
        return EXIT_UNREACHABLE
    print(f"all {len(results)} target(s) took the test message")
    return 0
