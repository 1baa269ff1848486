"""The command line's shape: every command module registers its commands, options in one place."""

from __future__ import annotations

import argparse

import pytest

from cyclerctl.cli import COMMANDS, library, parser
from cyclerctl.export import FORMATS

# `cyclerctl --help` before the CLI became a package (cli.py + cli_data.py), in its order, and
# the commands added since where their group stands (commission: issue 14; watch, notify: 18)
COMMAND_NAMES = [
    "protocols", "cells", "schema", "validate", "plan", "run", "runs", "show", "analyze",
    "watch", "emulate", "probe", "commission", "db", "daemon", "submit", "status", "pause",
    "resume", "stop", "notify", "tui", "web", "export", "report", "import",
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


def test_a_module_can_add_a_command_under_an_existing_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """How `protocols import`/`export` will come: one module, without touching library.py."""
    from cyclerctl.cli.common import add_subcommand

    p = argparse.ArgumentParser(prog="cyclerctl")
    sub = p.add_subparsers(dest="command")
    library.register(sub)

    def imported(args: argparse.Namespace, config: object) -> int:
        return 0

    c = add_subcommand(sub, "protocols", "import", imported, "a vendor's protocol file in")
    c.add_argument("file")
    add_subcommand(sub, "protocols", "export", imported, "a protocol to a vendor's file")
    args = p.parse_args(["protocols", "import", "x.json"])
    assert args.handler is imported and args.file == "x.json"
    listed = p.parse_args(["protocols", "--json"])  # the command alone still lists
    assert listed.json and listed.handler is not imported and listed.protocols_command is None
    with pytest.raises(SystemExit):
        p.parse_args(["protocols", "--help"])
    assert "import" in capsys.readouterr().out
