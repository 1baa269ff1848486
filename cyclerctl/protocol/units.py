"""Quantity strings at the edge ("0.5 mA/cm^2", "C/10", "25 degC") → SI floats inside.

pint does the unit work through one module-level registry, created on first use. The
text is checked against a small grammar first (a number, then unit names with small
integer powers) so that nothing but unit names ever reaches pint's expression parser.
C-rates ("C/10", "1C", "2 C", "0.5C") are read by a regular expression before pint and
are returned as multiples of the cell's 1C current, i.e. in 1/h (like ``Step.c_rate``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QuantityKind:
    noun: str  # how a message names it: "current density"
    hint: str  # the units a user would write: "A/cm^2"
    si_unit: str  # the unit of the SI float this kind is converted to ("" for C-rates)


#: Every kind of quantity a protocol or cell file may hold, by name.
KINDS: dict[str, QuantityKind] = {
    "voltage": QuantityKind("voltage", "V", "V"),
    "current": QuantityKind("current", "A", "A"),
    "current_density": QuantityKind("current density", "A/cm^2", "A/m^2"),
    "c_rate": QuantityKind("C-rate", "C/10", ""),
    "time": QuantityKind("duration", "s, min, h", "s"),
    "charge": QuantityKind("charge", "mAh, Ah, C", "C"),
    "areal_charge": QuantityKind("areal charge", "mAh/cm^2", "C/m^2"),
    "frequency": QuantityKind("frequency", "Hz", "Hz"),
    "scan_rate": QuantityKind("scan rate", "V/s", "V/s"),
    "resistance": QuantityKind("resistance", "ohm", "ohm"),
    "temperature": QuantityKind("temperature", "degC, K", "K"),
    "length": QuantityKind("length", "mm", "m"),
    "area": QuantityKind("area", "cm^2", "m^2"),
    "mass": QuantityKind("mass", "mg", "kg"),
    "areal_mass": QuantityKind("areal mass", "mg/cm^2", "kg/m^2"),
    "specific_capacity": QuantityKind("specific capacity", "mAh/g", "C/kg"),
    "number": QuantityKind("plain number", "no unit", ""),
}

#: Kinds that a current field accepts (converted to A with the cell's area and capacity).
CURRENT_KINDS = ("current", "current_density", "c_rate")
#: Kinds that a charge field accepts (converted to C with the cell's area).
CHARGE_KINDS = ("charge", "areal_charge")

# ASCII digits only: Python's \d and float() would also take other scripts' digits.
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_UNSIGNED = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_QUANTITY = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>.*?)\s*$", re.DOTALL)
_C_RATE = re.compile(
    rf"^\s*(?P<sign>[+-]?)\s*(?:(?P<times>{_UNSIGNED})?\s*C|C\s*/\s*(?P<per>{_UNSIGNED}))\s*$"
)
_ATOM = r"[A-Za-zµμΩ°_]+(?:\s*(?:\^|\*\*)\s*[+-]?[0-9]{1,2})?"
_UNIT = re.compile(rf"^{_ATOM}(?:\s*[/*]\s*{_ATOM}|\s+{_ATOM})*$")

_registry: Any = None


def registry() -> Any:
    """The one pint registry (offset units such as degC convert to K on their own)."""
    global _registry
    if _registry is None:
        import pint

        _registry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    return _registry


def describe_kinds(kinds: Iterable[str]) -> str:
    """``["current", "c_rate"]`` → ``a current (A) or C-rate (C/10)``."""
    words = [f"{KINDS[k].noun} ({KINDS[k].hint})" for k in kinds]
    if not words:
        return "nothing"
    return _with_article(
        words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    )


def _with_article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def parse_c_rate(text: str) -> float | None:
    """``"C/10"`` → 0.1, ``"2 C"`` → 2.0 (1/h); None when ``text`` is not a C-rate."""
    match = _C_RATE.match(text)
    if match is None:
        return None
    sign = -1.0 if match["sign"] == "-" else 1.0
    if match["per"] is not None:
        per = float(match["per"])
        if per == 0 or not math.isfinite(per):
            return None
        return sign / per
    times = float(match["times"]) if match["times"] is not None else 1.0
    return sign * times if math.isfinite(times) else None


def _parse_physical(text: str) -> tuple[str | None, float, str]:
    """``(kind or None, SI value, dimension description)``; ValueError when unreadable."""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError("expected a number followed by a unit")
    number = float(match["number"])
    unit_text = match["unit"]
    if not math.isfinite(number):
        raise ValueError("the number is out of range")
    if not unit_text:
        return "number", number, "a plain number without a unit"
    if _UNIT.match(unit_text) is None:
        raise ValueError(f"cannot read the unit {unit_text!r}")
    ureg = registry()
    try:
        units = ureg.parse_units(unit_text)
    except Exception as exc:  # pint raises many kinds of errors on odd input
        names = getattr(exc, "unit_names", None) or getattr(exc, "args", ("?",))[:1]
        shown = ", ".join(repr(str(n)) for n in names) if names else repr(unit_text)
        raise ValueError(f"unknown unit {shown}") from None
    dimensionality = units.dimensionality
    for name, kind in KINDS.items():
        if not kind.si_unit or name == "number":
            continue
        target = ureg.parse_units(kind.si_unit)
        if target.dimensionality == dimensionality:
            try:
                value = float(ureg.Quantity(number, units).to(target).magnitude)
            except Exception:
                raise ValueError(f"cannot convert {text.strip()!r} to {kind.si_unit}") from None
            if not math.isfinite(value):
                raise ValueError("the value is out of range")
            return name, value, _with_article(kind.noun)
    return None, number, f"a quantity of dimension {dimensionality}"


def parse_any(text: str, kinds: Sequence[str]) -> tuple[str, float]:
    """Read ``text`` as one of ``kinds``: ``(the kind it is, SI value)``.

    C-rates come back in 1/h. ValueError names what is allowed and what was given.
    """
    expected = f"expected {describe_kinds(kinds)}, got {text!r}"
    if "c_rate" in kinds:
        rate = parse_c_rate(text)
        if rate is not None:
            return "c_rate", rate
    if _QUANTITY.match(text) is None:
        raise ValueError(expected)
    try:
        kind, value, what = _parse_physical(text)
    except ValueError as exc:
        raise ValueError(f"{exc}: {expected}") from None
    if kind is None or kind not in kinds:
        raise ValueError(f"{expected} ({what})")
    return kind, value


def parse_quantity(text: str, kind: str) -> float:
    """SI float for ``text`` of the given kind (a key of :data:`KINDS`); C-rates in 1/h.

    >>> parse_quantity("0.5 mA/cm^2", "current_density")
    5.0
    """
    if kind not in KINDS:
        raise ValueError(f"unknown quantity kind {kind!r}; the kinds are: {', '.join(KINDS)}")
    return parse_any(text, (kind,))[1]


def possible_kinds(text: str) -> set[str]:
    """Every kind ``text`` can be read as ("1C" is both a C-rate and one coulomb)."""
    found: set[str] = set()
    if parse_c_rate(text) is not None:
        found.add("c_rate")
    try:
        kind, _, _ = _parse_physical(text)
    except ValueError:
        return found
    if kind is not None:
        found.add(kind)
    return found


def looks_like_quantity(text: str) -> bool:
    """True when ``text`` starts like a number or is a C-rate, i.e. is meant as a quantity."""
    return _QUANTITY.match(text) is not None or parse_c_rate(text) is not None


def why_unreadable(text: str) -> str:
    """Why ``text`` is not a quantity of any known kind, for messages."""
    if _QUANTITY.match(text) is None:
        return f"expected a number with its unit or a C-rate, got {text!r}"
    try:
        kind, _, what = _parse_physical(text)
    except ValueError as exc:
        return f"{exc} in {text!r}"
    if kind is None:
        return f"{text!r} is {what}, which no field takes"
    return f"{text!r} is {what}"
