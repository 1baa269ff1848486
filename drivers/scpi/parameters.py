"""Reading a message unit's parameters as the Series 2400 does (2400S-900-01 §14 "Parameter
types": ``<b>`` ON/OFF/1/0, ``<n>`` a number or DEFault/MINimum/MAXimum, ``<name>`` a choice,
quoted function names), and writing numbers back as NR3. Each mistake is the
:class:`~.errors.ScpiFault` the instrument would queue."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .errors import ScpiFault
from .parser import Unit


def query_only(unit: Unit) -> None:
    if not unit.query:
        raise ScpiFault(-113)


def command_only(unit: Unit) -> None:
    if unit.query:
        raise ScpiFault(-113)


def single(unit: Unit) -> str:
    if not unit.parameters:
        raise ScpiFault(-109)
    if len(unit.parameters) > 1:
        raise ScpiFault(-108)
    return unit.parameters[0]


def number(unit: Unit, limit: float) -> float:
    """``<n>`` within ±``limit``; MAXimum/MINimum are ±limit, DEFault 0."""
    text = single(unit).upper()
    if text in ("MAX", "MAXIMUM"):
        return limit
    if text in ("MIN", "MINIMUM"):
        return -limit
    if text in ("DEF", "DEFAULT"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise ScpiFault(-104) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise ScpiFault(-222)
    return value


def boolean(unit: Unit) -> bool:
    text = single(unit).upper()
    if text in ("ON", "1"):
        return True
    if text in ("OFF", "0"):
        return False
    raise ScpiFault(-224)


def choice(unit: Unit, choices: Mapping[str, str]) -> str:
    value = choices.get(single(unit).upper())
    if value is None:
        raise ScpiFault(-224)
    return value


def functions(unit: Unit) -> set[str]:
    """Sense function names (``"VOLT"``, ``'CURRent:DC'``…) as VOLT/CURR; RES is accepted
    and ignored (the emulator measures no resistance)."""
    if not unit.parameters:
        raise ScpiFault(-109)
    chosen: set[str] = set()
    for parameter in unit.parameters:
        name = parameter.strip("\"'").upper().split(":")[0]
        if name in ("VOLT", "VOLTAGE"):
            chosen.add("VOLT")
        elif name in ("CURR", "CURRENT"):
            chosen.add("CURR")
        elif name in ("RES", "RESISTANCE"):
            continue
        else:
            raise ScpiFault(-224)
    return chosen


def bool_text(value: bool) -> str:
    return "1" if value else "0"


def nr3(value: float) -> str:
    return f"{value:+.6E}"
