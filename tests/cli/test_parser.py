"""The command line's shape: every command module registers its commands, options in one place."""

from __future__ import annotations

import argparse

import pytest

from cyclerctl.cli import COMMANDS, parser
from cyclerctl.export import FORMATS

# `cyclerctl --help` before the CLI became a package (cli.py + cli_data.py), in its order
COMMAND_NAMES = [
    "protocols", "cells", "schema", "validate", "plan", "run", "runs", "show", "analyze",
    "emulate", "probe", "db", "daemon", "submit", "status", "pause", "resume", "stop", "tui",
    "export", "report", "import",
]  # fmt: skip


def _subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = (a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_help_lists_the_same_commands_in_the_same_order() -> None:
    assert list(_subcommands(parser())) == COMMAND_NAMES
    assert all(callable(getattr(module, "register", None)) for module in COMMANDS)


@pytest.mark.parametrize("command", ["validate", "plan", "daemon", "submit", "status", "tui"])
def test_config_is_taken_before_or_after_the_command(command: str) -> None:
    needs = {
        "validate": ["p.toml", "--cell", "c"],
        "plan": ["p.toml", "--cell", "c"],
        "submit": ["p.toml", "--cell", "c", "--channel", "sim:1"],
    }.get(command, [])
    p = parser()
    assert p.parse_args(["--config", "before.toml", command, *needs]).config == "before.toml"
    assert p.parse_args([command, *needs, "--config", "after.toml"]).config == "after.toml"
    assert p.parse_args([command, *needs]).config is None


def test_export_offers_the_formats_the_writer_implements() -> None:
    (fmt,) = (a for a in _subcommands(parser())["export"]._actions if a.dest == "format")
    assert fmt.choices is not None and tuple(fmt.choices) == FORMATS


def test_building_the_parser_loads_no_handler_dependency() -> None:
    """`cyclerctl --help` and every command start without the store, numpy or the engine."""
    import subprocess
    import sys

    code = (
        "import sys; from cyclerctl.cli import parser; parser(); "
        "print(sorted(m for m in ('sqlalchemy', 'numpy', 'pyarrow', 'cyclerctl.engine', "
        "'cyclerctl.store', 'cyclerctl.protocol') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
