"""Read-only access for viewers, and telling a refused write from a broken database.

On PostgreSQL, :func:`grant_viewer` makes a role that can read every table of the run
database — now and after later migrations — and change nothing: give it to the people who
only watch (``GRANT lab_viewer TO alice``), and their ``status``, ``show``, ``export`` and
``tui`` work while ``submit``/``pause``/``resume``/``stop`` are refused by the server.
SQLite has no roles: a viewer gets read access to the file and ``cyclerctl tui --read-only``.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

#: PostgreSQL's SQLSTATE for "insufficient privilege"
INSUFFICIENT_PRIVILEGE: Final = "42501"
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class AccessError(ValueError):
    """A viewer role that cannot be made here (SQLite, or a name PostgreSQL would mangle)."""


def grant_viewer(engine: Engine, role: str, *, login: bool = False) -> None:
    """Create ``role`` if missing (NOLOGIN unless ``login``) and let it read, only read."""
    if engine.dialect.name != "postgresql":
        raise AccessError(
            f"{engine.dialect.name} has no roles: give viewers read access to the database file"
            " only, and have them use `cyclerctl tui --read-only`"
        )
    if not _ROLE_NAME.fullmatch(role):
        raise AccessError(
            f"role {role!r}: use lower-case letters, digits and _ (at most 63), not starting"
            " with a digit"
        )
    quoted = engine.dialect.identifier_preparer.quote(role)
    can_login = "LOGIN" if login else "NOLOGIN"
    with engine.begin() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
        ).first()
        if exists is None:
            connection.execute(text(f"CREATE ROLE {quoted} {can_login}"))
        database = connection.execute(text("SELECT current_database()")).scalar_one()
        db = engine.dialect.identifier_preparer.quote(str(database))
        for statement in (
            f"GRANT CONNECT ON DATABASE {db} TO {quoted}",
            f"GRANT USAGE ON SCHEMA public TO {quoted}",
            f"REVOKE CREATE ON SCHEMA public FROM {quoted}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {quoted}",
            f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
            # tables a later migration adds (made by the role running this) are readable too
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {quoted}",
        ):
            connection.execute(text(statement))


def refused_write(exc: BaseException) -> bool:
    """True when the database refused a change for lack of rights (a viewer's role, a
    read-only file), as opposed to failing."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        return True
    return "readonly database" in str(exc.orig)  # SQLite: "attempt to write a readonly database"
