"""Protocols and cells by name: a path to a .toml file, or a file in the shipped library."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from cyclerctl.resources import cells_dir, library_dir

from .errors import InputError, ProtocolError


@dataclass(frozen=True)
class LibraryEntry:
    name: str  # what to pass to load_plan: the file name without .toml
    description: str
    path: Path


def list_protocols() -> list[LibraryEntry]:
    """The shipped protocols, by name (for ``cyclerctl protocols``)."""
    return _entries(library_dir(), "description")


def list_cells() -> list[LibraryEntry]:
    """The shipped cells, by name; the description is the cell's own ``name``."""
    return _entries(cells_dir(), "name")


def _entries(folder: Path, describe_by: str) -> list[LibraryEntry]:
    entries = []
    for path in sorted(folder.glob("*.toml"), key=lambda p: p.stem):
        try:
            description = str(tomllib.loads(path.read_text(encoding="utf-8")).get(describe_by, ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            description = f"(unreadable: {exc})"
        entries.append(LibraryEntry(path.stem, description, path))
    return entries


@dataclass(frozen=True)
class Located:
    path: Path  # the file to read
    shown_as: str  # how messages name it
    source: str  # recorded in the Plan: the library name, or the path as given


def locate(spec: str, what: str) -> Located:
    """``spec`` as a file path, else as a name in the library of ``what`` ("protocol"/"cell")."""
    folder = library_dir() if what == "protocol" else cells_dir()
    given = Path(spec)
    if spec and is_file(given):
        return Located(given, spec, spec)
    name = spec[:-5] if spec.endswith(".toml") else spec
    candidate = folder / f"{name}.toml"
    if name and "/" not in name and "\\" not in name and is_file(candidate):
        return Located(candidate, str(candidate), name)
    names = ", ".join(sorted(p.stem for p in folder.glob("*.toml"))) or "(none)"
    message = (
        f"{spec!r} is neither a file nor a {what} in the library ({folder}); "
        f"the library has: {names}"
    )
    raise ProtocolError([InputError(spec or "''", None, what, message)])


def is_file(path: Path) -> bool:
    """``path.is_file()``, but False for a name the OS refuses (too long, …), not an error."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
