"""The ``cyclerctl`` command: one module per group of commands, each with ``register(sub)``.

Exit codes: 0 done; 1 the run ended on a safety stop or a fault, or an instrument could not
be reached; 2 bad input (nothing was written); 3 the run was stopped by the operator.

A new command is one module here with a ``register(subparsers)`` that adds its parser(s)
with :func:`cyclerctl.cli.common.add_command`, and one entry in :data:`COMMANDS`. Handlers
take ``(args, config)``, import what they need inside (so ``cyclerctl --help`` stays fast),
raise :class:`~cyclerctl.cli.common.BadInput` for what the user must fix, and return the
exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from cyclerctl import __version__
from cyclerctl.cli import (
    commission,
    data,
    db,
    hardware,
    library,
    notify,
    plan,
    protocol_files,
    queue,
    run,
    runs,
    tui,
    watch,
    web,
)
from cyclerctl.cli.common import EXIT_BAD_INPUT, EXIT_UNREACHABLE, BadInput
from cyclerctl.config import ConfigError, load_config
from cyclerctl.credentials import CredentialError

__all__ = ["COMMANDS", "main", "parser"]

# in the order `cyclerctl --help` lists them
COMMANDS: tuple[ModuleType, ...] = (
    library, protocol_files, plan, run, runs, watch, hardware, commission, db, queue, notify,
    tui, web, data,
)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cyclerctl",
        description="Run battery test protocols on potentiostats and cyclers.",
    )
    p.add_argument("--version", action="version", version=f"cyclerctl {__version__}")
    p.add_argument(
        "--config", help="lab config file (default: $CYCLERCTL_CONFIG, ./cyclerctl.toml)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not getattr(args, "command", None):
        p.print_help()
        return EXIT_BAD_INPUT
    try:
        config = load_config(args.config)
        return int(args.handler(args, config))
    # the one place an error becomes an exit code; the types past BadInput are looked up only
    # when something was raised, so a command does not import the protocol model or SQLAlchemy
    # just to be able to name their errors
    except (ConfigError, CredentialError, BadInput) as exc:
        return _bad(str(exc))
    except _hardware_error() as exc:
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
        return _bad(f"the database refused the change: this account may only read ({reason})")
    except (ConnectionError, TimeoutError, OSError) as exc:
        # an instrument or server that cannot be reached: say which, no traceback
        print(f"cannot reach the instrument: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE


def _bad(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_INPUT


def _database_error() -> type[Exception]:
    from sqlalchemy.exc import DBAPIError

    return DBAPIError


def _hardware_error() -> type[Exception]:
    from cyclerctl.hardware import HardwareInputError

    return HardwareInputError


def _protocol_error() -> type[Exception]:
    from cyclerctl.protocol import ProtocolError

    return ProtocolError
