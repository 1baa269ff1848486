"""Where the shipped protocol library and migrations are, installed or in a source tree.

In a wheel, ``protocols/`` and ``alembic/`` are installed inside the package as
``cyclerctl/library`` and ``cyclerctl/migrations`` (see pyproject.toml). In a source
checkout (editable install, tests) they stay at the top level beside ``cyclerctl/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _pick(installed: str, source: str) -> Path:
    inside = _PACKAGE_DIR / installed
    if inside.is_dir():
        return inside
    return _PACKAGE_DIR.parent / source


def library_dir() -> Path:
    """The shipped protocol library (``*.toml``); cells are in its ``cells/`` folder."""
    return _pick("library", "protocols")


def cells_dir() -> Path:
    return library_dir() / "cells"


def migrations_dir() -> Path:
    """The alembic script directory (``env.py`` and ``versions/``)."""
    return _pick("migrations", "alembic")
