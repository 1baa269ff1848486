"""The layout of an EC-Lab settings file (``.mps``), shared by its reader and writer.

What the layout is, as EC-Lab writes it (the two real files in ``shared/data/biologic-gcpl``,
public ones such as cheminfo/biologic-converter's ``src/__tests__/data/all/test/test.mps``,
and aurora-unicycler's ``_formats/biologic.py``, which writes Modulo Bat files):

* text in the Windows code page (``µ`` is one byte, ``cm²`` ends in ``²``), CRLF lines;
* ``EC-LAB SETTING FILE``, ``Number of linked techniques : N``, then header lines
  ``key : value`` (device, safety limits, electrode surface area, characteristic mass,
  battery capacity, cycle definition …);
* for each technique a blank line, ``Technique : k``, the technique's full name
  (``Galvanostatic Cycling with Potential Limitation``), then one row per parameter: the
  label left-justified in 20 characters, then one 20-character column per sequence ``Ns``;
* numbers with three decimals in the unit the row names (``unit Is`` says µA, mA or A),
  durations as ``h:m:s`` (``24:00:0.0000``), a decimal comma on a European Windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ProtocolIOError

COLUMN = 20
ENCODING = "cp1252"

#: SI factor of each unit EC-Lab writes (µ as EC-Lab writes it, and as "u").
FACTORS: dict[str, float] = {
    "pA": 1e-12, "nA": 1e-9, "µA": 1e-6, "uA": 1e-6, "mA": 1e-3, "A": 1.0,
    "µV": 1e-6, "uV": 1e-6, "mV": 1e-3, "V": 1.0,
    "pA.h": 3.6e-9, "nA.h": 3.6e-6, "µA.h": 3.6e-3, "uA.h": 3.6e-3, "mA.h": 3.6, "A.h": 3600.0,
    "µHz": 1e-6, "uHz": 1e-6, "mHz": 1e-3, "Hz": 1.0, "kHz": 1e3, "MHz": 1e6,
    "ms": 1e-3, "s": 1.0, "mn": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0,
    "µV/s": 1e-6, "uV/s": 1e-6, "mV/s": 1e-3, "V/s": 1.0, "mV/h": 1e-3 / 3600,
    "mg": 1e-6, "g": 1e-3, "µg": 1e-9, "ug": 1e-9, "kg": 1.0,
}  # fmt: skip


@dataclass
class Technique:
    """One technique block: its number, full name and rows ``(label, values)`` in order
    (a label such as ``vs.`` may come more than once)."""

    number: int
    name: str
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    line: int = 0

    @property
    def sequences(self) -> int:
        return max((len(v) for _, v in self.rows), default=0)

    def get(self, label: str, ns: int = 0, *, occurrence: int = 0) -> str | None:
        """The value of ``label`` for sequence ``ns`` (the ``occurrence``-th row so named)."""
        seen = 0
        for name, values in self.rows:
            if name == label:
                if seen == occurrence:
                    return values[ns] if ns < len(values) else None
                seen += 1
        return None

    def after(self, anchor: str, label: str, ns: int = 0) -> str | None:
        """The value of the first row named ``label`` after the row ``anchor`` (a ``vs.``
        belongs to the value just above it)."""
        names = [n for n, _ in self.rows]
        if anchor not in names:
            return None
        for name, values in self.rows[names.index(anchor) + 1 :]:
            if name == label:
                return values[ns] if ns < len(values) else None
        return None

    def has(self, label: str) -> bool:
        return any(name == label for name, _ in self.rows)


@dataclass
class Settings:
    header: list[str]
    techniques: list[Technique]

    def header_value(self, key: str) -> str | None:
        for line in self.header:
            if ":" in line and line.split(":", 1)[0].strip() == key:
                return line.split(":", 1)[1].strip()
        return None


def decode(data: bytes | str) -> str:
    text = data.decode(ENCODING, errors="replace") if isinstance(data, bytes) else data
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_settings(data: bytes | str, source: str) -> Settings:
    lines = decode(data).split("\n")
    if not lines or lines[0].strip() != "EC-LAB SETTING FILE":
        raise ProtocolIOError(f"{source}:1: not an EC-Lab settings file (no 'EC-LAB SETTING FILE')")
    header: list[str] = []
    techniques: list[Technique] = []
    i = 1
    while i < len(lines):
        line = lines[i]
        match = re.fullmatch(r"Technique : (\d+)\s*", line)
        if match:
            if i + 1 >= len(lines) or not lines[i + 1].strip():
                raise ProtocolIOError(f"{source}:{i + 2}: technique {match[1]} has no name")
            technique = Technique(int(match[1]), lines[i + 1].strip(), line=i + 1)
            i += 2
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("Technique :"):
                row = lines[i]
                label = row[:COLUMN].strip()
                rest = row[COLUMN:]
                values = [
                    rest[k : k + COLUMN].strip() for k in range(0, len(rest.rstrip()), COLUMN)
                ]
                technique.rows.append((label, values))
                i += 1
            techniques.append(technique)
            continue
        if not techniques:
            header.append(line.rstrip())
        i += 1
    if not techniques:
        raise ProtocolIOError(f"{source}: no 'Technique : 1' block")
    return Settings(header, techniques)


def parse_number(text: str, where: str) -> float:
    cleaned = text.strip()
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")  # a European Windows writes a decimal comma
    try:
        return float(cleaned)
    except ValueError:
        raise ProtocolIOError(f"{where}: expected a number, got {text!r}") from None


def parse_duration(text: str, where: str) -> float:
    """``h:m:s`` (``24:00:0.0000``, ``00:00:10,0000``) in seconds."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        raise ProtocolIOError(f"{where}: expected a duration h:m:s, got {text!r}")
    h, m, s = (parse_number(p, where) for p in parts)
    return h * 3600 + m * 60 + s


def factor(unit: str, where: str) -> float:
    unit = unit.strip().replace("\u00b5", "µ").replace("\u03bc", "µ")
    if unit not in FACTORS:
        raise ProtocolIOError(f"{where}: unknown unit {unit!r}")
    return FACTORS[unit]


def format_duration(value_s: float) -> str:
    """Seconds as EC-Lab writes ``h:m:s`` (``24:00:0.0000``)."""
    hours, rest = divmod(round(value_s * 10000), 3600 * 10000)
    minutes, tenths = divmod(rest, 60 * 10000)
    return f"{hours}:{minutes:02d}:{tenths / 10000:.4f}"


def row(label: str, values: list[str]) -> str:
    return label.ljust(COLUMN) + "".join(v.ljust(COLUMN) for v in values)


def scaled(value: float, units: tuple[tuple[str, float], ...]) -> tuple[str, str]:
    """``value`` (SI) in the largest unit of ``units`` (name, factor; smallest first) that
    keeps it at least 1, with three decimals as EC-Lab writes."""
    name, f = units[0]
    for candidate, candidate_factor in units:
        if abs(value) >= candidate_factor * 0.9995:
            name, f = candidate, candidate_factor
    return f"{value / f:.3f}", name
