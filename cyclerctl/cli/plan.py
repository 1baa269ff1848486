"""`cyclerctl validate` and `plan`: a protocol with a cell checked and its steps shown."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import Subparsers, add_command, json_arg, print_json
from cyclerctl.cli.inputs import channel_arg, load_plan_for_channel, protocol_args
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(sub, "validate", _validate, "check a protocol with a cell, touch nothing")
    protocol_args(c)
    channel_arg(c)
    json_arg(c)

    c = add_command(sub, "plan", _plan, "show the resolved step table and an estimated duration")
    protocol_args(c)
    channel_arg(c)
    json_arg(c)


def _validate(args: argparse.Namespace, config: Config) -> int:
    plan = load_plan_for_channel(args, config)
    if args.json:
        print_json(
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


def _plan(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.protocol import plan_to_json, render_plan_table

    plan = load_plan_for_channel(args, config)
    if args.json:
        print_json(plan_to_json(plan))
    else:
        print(render_plan_table(plan))
    return 0
