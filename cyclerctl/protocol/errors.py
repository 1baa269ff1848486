"""Input errors: every bad input is reported as ``PATH:LINE: field: message``.

A :class:`ProtocolError` carries every error found in one go (a scientist fixes a file
once, not once per error). :class:`ErrorSink` collects them while one file is read,
turning a key path inside the file into its line and a printable dotted field name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: A path to a value inside a TOML document: table keys and 0-based array indices.
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class InputError:
    path: str  # the file (or "--set") the bad input came from
    line: int | None  # 1-based line in that file, when known
    field: str  # dotted field name, array indices 1-based: steps[2].steps[3].current
    message: str

    def __str__(self) -> str:
        """One line, whatever the input held (line breaks in values are shown escaped)."""
        path, field, message = (_one_line(s) for s in (self.path, self.field, self.message))
        where = path if self.line is None else f"{path}:{self.line}"
        return f"{where}: {field}: {message}" if field else f"{where}: {message}"


# Every character str.splitlines() breaks on, shown as an escape instead.
_LINE_BREAKS = {c: repr(chr(c))[1:-1] for c in (10, 11, 12, 13, 28, 29, 30, 133, 0x2028, 0x2029)}


def _one_line(text: str) -> str:
    return text.translate(_LINE_BREAKS)


class ProtocolError(Exception):
    """Bad protocol, cell or ``--set`` input; ``str()`` is one line per error."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def field_name(path: KeyPath) -> str:
    """``("steps", 1, "steps", 2, "current")`` → ``steps[2].steps[3].current``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else part
    return out


class ErrorSink:
    """Collects the errors of one input file, each placed on the line of its key."""

    def __init__(self, path: str, lines: Mapping[KeyPath, int] | None = None) -> None:
        self.path = path
        self.lines: Mapping[KeyPath, int] = lines or {}
        self.errors: list[InputError] = []

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor written in the file."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def add(self, path: KeyPath, message: str, *, field: str | None = None) -> None:
        error = InputError(
            self.path,
            self.line_of(path),
            field_name(path) if field is None else field,
            message,
        )
        if error not in self.errors:
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ProtocolError(self.errors)
