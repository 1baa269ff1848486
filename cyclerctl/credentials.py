"""Where the database password comes from, and how a database URL is shown.

A password is never taken from the command line (every user sees it in ``ps``, and it
stays in shell history) and never printed or logged. It comes from, in this order:

1. the URL in ``CYCLERCTL_DB`` (the environment is the process's own);
2. the URL in the config file's ``[database] url``, only if that file is owner-only (0600);
3. ``CYCLERCTL_DB_PASSWORD``, for a URL that names no password;
4. ``[database] password_file``: a file holding the password, owner-only (0600), read
   each time a command starts (relative paths are relative to the config file);
5. for PostgreSQL, libpq's own ``~/.pgpass`` / ``PGPASSFILE`` (which libpq checks is 0600).

:func:`shown` is the one way a URL reaches a message or a log: the password as ``***``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# sqlalchemy is imported where it is used: the CLI imports this module at start-up

PASSWORD_VARIABLE = "CYCLERCTL_DB_PASSWORD"
_HOW = (
    f"set it in ${PASSWORD_VARIABLE} or $CYCLERCTL_DB, or in a [database] password_file "
    "that only you can read (chmod 600)"
)


class CredentialError(ValueError):
    """A password offered where it would leak; the message says where to put it instead."""


def has_password(url: str) -> bool:
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False  # not a URL at all: opening it will say so


def shown(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def readable_by_others(path: Path) -> str | None:
    """Why ``path`` is not owner-only (e.g. "mode 0644"), or None when it is."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return f"mode {mode:04o}"
    return None


def read_password_file(path: Path) -> str:
    """The password in ``path`` (first line); CredentialError unless the file is owner-only."""
    try:
        loose = readable_by_others(path)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read the password file: {exc.strerror}") from None
    if loose is not None:
        raise CredentialError(
            f"{path}: a password file must be readable by its owner only, it has {loose}:"
            f" chmod 600 {path}"
        )
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise CredentialError(f"{path}: the password file is empty")
    return lines[0]


def refuse_command_line_password(url: str | None) -> None:
    if url is not None and has_password(url):
        raise CredentialError(
            f"--db: {shown(url)}: a password on the command line can be read by every user of"
            f" this PC; {_HOW}"
        )


def with_password(url: str, password_file: Path | None) -> str:
    """``url`` with the password from the environment or ``password_file`` when it has none."""
    if has_password(url):
        return url
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None and password_file is not None:
        password = read_password_file(password_file)
    if password is None:
        return url
    from sqlalchemy import make_url

    return make_url(url).set(password=password).render_as_string(hide_password=False)
