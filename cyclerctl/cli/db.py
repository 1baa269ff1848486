"""`cyclerctl db`: database maintenance (migrations, a read-only role)."""

from __future__ import annotations

import argparse

from cyclerctl.cli.common import BadInput, Subparsers, add_command, db_arg, open_store
from cyclerctl.config import Config


def register(sub: Subparsers) -> None:
    c = add_command(sub, "db", _db, "database maintenance")
    c.add_argument(
        "action",
        choices=["upgrade", "viewer"],
        help="upgrade: apply migrations; viewer ROLE: make a read-only role (PostgreSQL)",
    )
    c.add_argument("role", nargs="?", help="the viewer role's name (for `viewer`)")
    c.add_argument("--login", action="store_true", help="the viewer role may log in itself")
    db_arg(c)


def _db(args: argparse.Namespace, config: Config) -> int:
    from cyclerctl.store.access import AccessError, grant_viewer

    if args.action == "viewer" and not args.role:
        raise BadInput("db viewer: name the role, e.g. `cyclerctl db viewer lab_viewer`")
    store = open_store(args.db, config)  # opening applies the migrations (`upgrade`)
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
