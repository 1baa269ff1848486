"""Read a TOML file and remember the line of every key, for ``file:line`` messages.

tomllib gives values but no positions, so :func:`key_lines` scans the (already valid)
text once more and records, for each key path, the line it is written on: table
headers, ``[[steps]]`` / ``[[steps.steps]]`` array-of-tables elements (by index), dotted
keys, and keys inside inline tables and arrays (``until = { time = "1 h" }`` gives both
``until`` and ``until.time``).
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, KeyPath, ProtocolError, field_name

#: Deeper nesting than this is refused: no protocol, cell or config needs it, and the
#: recursive parsers behind (tomllib, pydantic, the scanner below) must never run out of stack.
MAX_DEPTH = 32
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SYNTAX_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


@dataclass(frozen=True)
class TomlDocument:
    path: str  # as shown in messages
    text: str
    data: dict[str, Any]
    lines: dict[KeyPath, int]


def read_toml(path: Path, shown_as: str | None = None) -> TomlDocument:
    """Parse ``path``; a syntax error becomes a ProtocolError on its line."""
    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError([InputError(shown, None, "file", f"cannot read it: {exc}")]) from None
    return parse_toml(text, shown)


def parse_toml(text: str, shown_as: str) -> TomlDocument:
    """Parse ``text``; a syntax error or a too deeply nested value is a ProtocolError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError([_syntax_error(str(exc), text, shown_as)]) from None
    except RecursionError:
        message = f"values are nested too deeply (at most {MAX_DEPTH} levels)"
        raise ProtocolError([InputError(shown_as, None, "TOML syntax", message)]) from None
    too_deep = _too_deep(data)
    if too_deep is not None:
        lines = key_lines(text)
        line = next((lines[too_deep[:n]] for n in range(len(too_deep), 0, -1)
                     if too_deep[:n] in lines), None)  # fmt: skip
        message = f"nested more than {MAX_DEPTH} levels deep"
        shown = too_deep[:3]  # the keys as written where the nesting starts, not 33 of them
        raise ProtocolError([InputError(shown_as, line, field_name(shown) + "…", message)])
    return TomlDocument(shown_as, text, data, key_lines(text))


def _too_deep(data: dict[str, Any]) -> KeyPath | None:
    """The path of a value nested deeper than MAX_DEPTH (iteratively: no recursion)."""
    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if len(path) > MAX_DEPTH:
            return path[: MAX_DEPTH + 1]
        if isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node))
    return None


def _syntax_error(message: str, text: str, shown_as: str) -> InputError:
    line: int | None = None
    at = _SYNTAX_AT.search(message)
    if at is not None:
        line = int(at[1])
        message = f"{message[: at.start()]} (column {at[2]})"
    elif _SYNTAX_AT_END.search(message):
        line = text.count("\n") + 1
        message = _SYNTAX_AT_END.sub(" (at the end of the file)", message)
    return InputError(shown_as, line, "TOML syntax", message)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line (1-based) of every key path in a valid TOML document.

    Positions only improve messages: should the scan ever trip, the lines found so far
    are kept and the rest of the messages go without a line number.
    """
    scanner = _Scanner(text)
    with contextlib.suppress(ValueError, IndexError, tomllib.TOMLDecodeError):
        scanner.run()
    return scanner.lines


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.array_lengths: dict[KeyPath, int] = {}  # [[array]] path → elements so far

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.i) + 1

    def peek(self, n: int = 1) -> str:
        if self.i >= len(self.text):
            raise IndexError("unexpected end of the document")
        return self.text[self.i : self.i + n]

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (if ``newlines``) line ends."""
        while self.i < len(self.text):
            c = self.text[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    def run(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(self.text):
                return
            start = self.i
            line = self.line()
            if self.peek(2) == "[[":
                self.i += 2
                keys = self.key()
                self.i = self.text.index("]]", self.i) + 2
                array = (*self.concrete(keys[:-1]), keys[-1])
                self.lines.setdefault(array, line)
                count = self.array_lengths.get(array, 0)
                self.array_lengths[array] = count + 1
                table = (*array, count)
                self.lines[table] = line
            elif self.peek() == "[":
                self.i += 1
                keys = self.key()
                self.i = self.text.index("]", self.i) + 1
                table = self.concrete(keys)
                self.lines.setdefault(table, line)
            else:
                self.key_value(table)
            if self.i <= start:
                raise ValueError(f"the scan stalled at line {line}")

    def concrete(self, keys: KeyPath) -> KeyPath:
        """Header keys → a path with the index of the latest element of each [[array]]."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            count = self.array_lengths.get(path)
            if count is not None:
                path = (*path, count - 1)
        return path

    def key(self) -> KeyPath:
        parts: list[str | int] = []
        while True:
            self.skip_blank(newlines=False)
            c = self.peek()
            if c in "\"'":
                start = self.i
                self.skip_string()
                parts.append(tomllib.loads(f"k = {self.text[start : self.i]}")["k"])
            else:
                match = _BARE_KEY.match(self.text, self.i)
                if match is None:
                    raise ValueError(f"unexpected {c!r} at line {self.line()}")
                parts.append(match.group())
                self.i = match.end()
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1

    def key_value(self, table: KeyPath) -> None:
        line = self.line()
        keys = self.key()
        for end in range(1, len(keys) + 1):
            self.lines.setdefault((*table, *keys[:end]), line)
        self.skip_blank(newlines=False)
        self.i += 1  # "="
        self.value((*table, *keys))

    def value(self, path: KeyPath) -> None:
        self.skip_blank(newlines=False)
        c = self.peek()
        if c == "{":
            self.i += 1
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "}":
                    self.i += 1
                    return
                start = self.i
                self.key_value(path)
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.i += 1
                if self.i <= start:
                    raise ValueError("the scan stalled in an inline table")
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.i += 1
                    return
                start = self.i
                self.lines.setdefault((*path, index), self.line())
                self.value((*path, index))
                index += 1
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.i += 1
                if self.i <= start:
                    raise ValueError("the scan stalled in an array")
        elif c in "\"'":
            self.skip_string()
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]}\r\n#":
                self.i += 1

    def skip_string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.i += 3
            while self.peek(3) != quote * 3:
                self.i += 2 if quote == '"' and self.peek() == "\\" else 1
            self.i += 3
            while self.peek() == quote:  # up to two quotes may end the content
                self.i += 1
            return
        self.i += 1
        while self.peek() != quote:
            self.i += 2 if quote == '"' and self.peek() == "\\" else 1
        self.i += 1
