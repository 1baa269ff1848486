"""Just enough of the SCPI grammar (IEEE 488.2 / SCPI-1999) for the emulator to read commands
as an instrument does, not as exact strings.

- A header is a path of mnemonics, each in its short form (the capitals of the manual's
  spelling: ``SOUR`` for ``SOURce``) or its long form, in any letter case.
- Nodes the manual prints in brackets are optional: ``[:SOURce[1]]:CURRent[:LEVel]``
  accepts ``:SOUR:CURR:LEV``, ``:CURR`` and ``:SOURce1:CURRent``; the ``[1]`` is a numeric
  suffix that may be written or left out.
- A program message (one line) holds several message units separated by ``;``. A unit that
  starts with ``:`` (or ``*``) starts from the root; one that does not continues in the
  subsystem of the unit before it (``:SOUR:FUNC CURR;CURR 1E-3`` sets ``:SOUR:CURR``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_NODE = re.compile(r"(\[)?:([A-Za-z0-9*?]+?)(\[1\])?(\])?(?=\[|:|$)")
_MNEMONIC = re.compile(r"^([A-Z]+)(\d*)$")


@dataclass(frozen=True, slots=True)
class _Node:
    long: str  # as the manual spells it, e.g. SOURce
    optional: bool
    suffix: bool  # accepts a numeric suffix 1 (SOURce1)

    @property
    def short(self) -> str:
        capitals = "".join(c for c in self.long if not c.islower())
        return capitals or self.long.upper()

    def accepts(self, mnemonic: str) -> bool:
        match = _MNEMONIC.match(mnemonic)
        if match is None:
            return False
        name, number = match.groups()
        if number and not (self.suffix and number == "1"):
            return False
        return name in (self.short, self.long.upper())


class Pattern:
    """One command header as the manual writes it, e.g. ``[:SOURce[1]]:CURRent[:LEVel]``."""

    def __init__(self, spelling: str) -> None:
        self.spelling = spelling
        nodes: list[_Node] = []
        position = 0
        for match in _NODE.finditer(spelling):
            if match.start() != position:
                raise ValueError(f"cannot read the SCPI header pattern {spelling!r}")
            opening, long, suffix, closing = match.groups()
            if bool(opening) != bool(closing):
                raise ValueError(f"unbalanced brackets in {spelling!r}")
            nodes.append(_Node(long, optional=bool(opening), suffix=bool(suffix)))
            position = match.end()
        if position != len(spelling) or not nodes:
            raise ValueError(f"cannot read the SCPI header pattern {spelling!r}")
        self.nodes = tuple(nodes)

    def matches(self, path: tuple[str, ...]) -> bool:
        return _match(self.nodes, path)


def _match(nodes: tuple[_Node, ...], path: tuple[str, ...]) -> bool:
    if not nodes:
        return not path
    first, rest = nodes[0], nodes[1:]
    if path and first.accepts(path[0]) and _match(rest, path[1:]):
        return True
    return first.optional and _match(rest, path)


@dataclass(frozen=True, slots=True)
class Unit:
    """One message unit: its header path (upper case), whether it is a query, its text
    parameters (strings keep their quotes), and the unit as it was written."""

    path: tuple[str, ...]
    query: bool
    parameters: tuple[str, ...]
    text: str

    @property
    def common(self) -> bool:
        return bool(self.path) and self.path[0].startswith("*")


def split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for char in text:
        if quote is not None:
            current.append(char)
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def units(message: str) -> Iterator[Unit]:
    """The message units of one program message (one received line), headers resolved."""
    branch: tuple[str, ...] = ()
    for raw in split_outside_quotes(message.strip(), ";"):
        text = raw.strip()
        if not text:
            continue
        header, _, rest = text.partition(" ")
        query = header.endswith("?")
        header = header.rstrip("?")
        if header.startswith("*"):
            path: tuple[str, ...] = (header.upper(),)
        else:
            absolute = header.startswith(":")
            names = tuple(n.upper() for n in header.strip(":").split(":"))
            path = names if absolute or not branch else branch + names
            branch = path[:-1]
        parameters = tuple(p.strip() for p in split_outside_quotes(rest, ",")) if rest else ()
        yield Unit(path, query, tuple(p for p in parameters if p), text)
