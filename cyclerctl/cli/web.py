"""`cyclerctl web`: the lab in a browser, read-only (cyclerctl.web; the `web` extra)."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import BadInput, Subparsers, add_command, config_arg, db_arg
from cyclerctl.config import Config
from cyclerctl.web.listen import DEFAULT_LISTEN


def register(sub: Subparsers) -> None:
    c = add_command(
        sub, "web", _web, "the lab in a browser, read-only (pip install 'cyclerctl[web]')"
    )
    config_arg(c)
    db_arg(c)
    c.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"where to serve (default: [web] listen, else {DEFAULT_LISTEN}); an address other "
        "than this PC's needs [web.auth] in the config",
    )
    c.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password (asked twice, or one line on stdin), print its hash for "
        "[web.auth] users, and exit",
    )


def _web(args: argparse.Namespace, config: Config) -> int:
    """0 after Ctrl-C; 2 on a bad address, login setup or database, or without the extra."""
    if args.hash_password:
        from cyclerctl.web.auth import main as hash_password

        return hash_password()
    from cyclerctl.config import database_url
    from cyclerctl.web import MissingExtra, require_extra, serve
    from cyclerctl.web.listen import ListenError, parse_listen

    listen = args.listen or config.web.listen or DEFAULT_LISTEN
    try:
        parse_listen(listen)
        require_extra()
    except (ListenError, MissingExtra) as exc:
        raise BadInput(str(exc)) from None
    return serve(config, database_url(args.db, config), listen)
