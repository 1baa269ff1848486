"""`cyclerctl web`: the lab in a browser, read-only (issue 19; DESIGN.md "Who uses it").

A client of the database only, like the TUI (no engine, no driver): Starlette pages
rendered on the server, live through server-sent events, plots drawn by plotly.js from the
``plotly`` wheel. Binds 127.0.0.1 unless [web.auth] is set (see listen, auth).

The web libraries are an optional extra (``pip install 'cyclerctl[web]'``); importing
this package needs none of them, :func:`serve` says which one is missing.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cyclerctl.web.listen import DEFAULT_LISTEN, ListenError, check_exposure, parse_listen

if TYPE_CHECKING:
    from cyclerctl.config import Config

__all__ = [
    "DEFAULT_LISTEN",
    "ListenError",
    "MissingExtra",
    "add_arguments",
    "check_exposure",
    "command",
    "parse_listen",
    "require_extra",
    "serve",
]

EXTRA_MODULES = ("starlette", "uvicorn", "plotly")


class MissingExtra(RuntimeError):
    """A library of the ``web`` extra is not installed; the message names the fix."""


def require_extra() -> None:
    import importlib.util

    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"cyclerctl web needs {', '.join(missing)}: pip install 'cyclerctl[web]'"
        )


def serve(config: Config, db_url: str, listen: str | None = None, **options: Any) -> int:
    """Run the server until interrupted; see :func:`cyclerctl.web.server.serve`."""
    require_extra()
    from cyclerctl.web.server import serve as run

    return run(config, db_url, listen, **options)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``cyclerctl web``'s own options (the CLI adds --config and --db as for every command)."""
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=None,
        help=f"where to serve (default: [web] listen, else {DEFAULT_LISTEN}); an address other "
        "than this PC's needs [web.auth] in the config",
    )
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password (asked twice, or one line on stdin), print its hash for "
        "[web.auth] users, and exit",
    )


def command(args: argparse.Namespace, config: Config) -> int:
    """``cyclerctl web``: 0 after Ctrl-C; 2 on a bad address, login setup or database, or
    without the ``web`` extra. Reads ``args.db``, ``args.listen``, ``args.hash_password``."""
    import sys

    from cyclerctl.config import database_url
    from cyclerctl.credentials import CredentialError

    if getattr(args, "hash_password", False):
        from cyclerctl.web.auth import main as hash_main

        return hash_main()
    try:
        listen = args.listen or config.web.listen or DEFAULT_LISTEN
        parse_listen(listen)
        require_extra()
        url = database_url(getattr(args, "db", None), config)
    except (ListenError, MissingExtra, CredentialError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return serve(config, url, listen)
