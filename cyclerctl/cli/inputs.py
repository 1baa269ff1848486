"""A protocol with its cell and ``--set`` overrides, as run, plan, validate and submit take it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from cyclerctl.cli.common import BadInput, config_arg
from cyclerctl.config import Config


def protocol_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("protocol", help="a protocol file, or a name from `cyclerctl protocols`")
    c.add_argument("--cell", required=True, help="a cell file, or a name from `cyclerctl cells`")
    c.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a protocol parameter (repeatable), e.g. --set cycles=3",
    )


def channel_arg(c: argparse.ArgumentParser) -> None:
    """``--channel`` of the config (with the ``--config`` that names it) to check a plan against."""
    c.add_argument(
        "--channel",
        help="<instrument>:<n> of the config: also refuse what this channel must not run "
        "(its hard limits, its driver's range)",
    )
    config_arg(c)


def load_plan(args: argparse.Namespace, channel: Any = None) -> Any:
    """The resolved plan; every input error surfaces here, before anything is touched."""
    from cyclerctl.protocol import load_plan as load

    return load(args.protocol, args.cell, overrides(args.overrides), channel=channel)


def load_plan_for_channel(args: argparse.Namespace, config: Config) -> Any:
    """The plan; with ``--channel``, checked against that channel's limits and range too."""
    plan = load_plan(args)
    if args.channel is None:
        return plan
    return load_plan(args, channel_limits(args.channel.strip(), config, plan))


def channel_limits(channel: str, config: Config, plan: Any) -> Any:
    """The config's hard limits of ``channel``, narrowed by its driver's declared range."""
    from cyclerctl.channel_limits import channel_limits as limits

    if config.path is None:
        raise BadInput(f"--channel: {channel!r}: give the config that names it (--config lab.toml)")
    try:
        return limits(config, channel, plan)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def overrides(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"--set: {pair!r}: expected NAME=VALUE, e.g. --set cycles=3")
        out[name.strip()] = value.strip()
    return out
