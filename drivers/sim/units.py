"""The `[sim]` table's values as written ("30 ohm", "25 degC", 0.998) → SI floats.

The few units a cell model takes are read by a table lookup, because importing pint and
building its registry costs ~0.2 s, a tenth of a dry run. Anything the table does not know
("0.03 kiloohm", "77 degF") goes to pint, imported on first use.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

_EV_J = 1.602176634e-19
_AVOGADRO = 6.02214076e23

# unit → (factor to SI, offset added after scaling), per dimension
_UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "ohm": {"ohm": (1.0, 0.0), "Ω": (1.0, 0.0), "mohm": (1e-3, 0.0), "mΩ": (1e-3, 0.0),
            "kohm": (1e3, 0.0), "kΩ": (1e3, 0.0)},
    "s": {"s": (1.0, 0.0), "ms": (1e-3, 0.0), "min": (60.0, 0.0), "h": (3600.0, 0.0)},
    "V": {"V": (1.0, 0.0), "mV": (1e-3, 0.0), "uV": (1e-6, 0.0), "µV": (1e-6, 0.0),
          "μV": (1e-6, 0.0)},
    "A": {"A": (1.0, 0.0), "mA": (1e-3, 0.0), "uA": (1e-6, 0.0), "µA": (1e-6, 0.0),
          "μA": (1e-6, 0.0), "nA": (1e-9, 0.0), "pA": (1e-12, 0.0)},
    "K": {"K": (1.0, 0.0), "degC": (1.0, 273.15), "°C": (1.0, 273.15)},
    # a temperature difference: "1.5 K" and "1.5 degC" are the same step
    "ΔK": {"K": (1.0, 0.0), "mK": (1e-3, 0.0), "degC": (1.0, 0.0), "°C": (1.0, 0.0)},
    "S/m": {"S/m": (1.0, 0.0), "S/cm": (100.0, 0.0), "mS/cm": (0.1, 0.0),
            "uS/cm": (1e-4, 0.0), "µS/cm": (1e-4, 0.0), "μS/cm": (1e-4, 0.0),
            "mS/m": (1e-3, 0.0)},
    "J": {"J": (1.0, 0.0), "eV": (_EV_J, 0.0), "meV": (1e-3 * _EV_J, 0.0),
          "kJ/mol": (1e3 / _AVOGADRO, 0.0)},
    "A/m^2": {"A/m^2": (1.0, 0.0), "A/cm^2": (1e4, 0.0), "mA/cm^2": (10.0, 0.0),
              "uA/cm^2": (1e-2, 0.0), "µA/cm^2": (1e-2, 0.0), "μA/cm^2": (1e-2, 0.0)},
    "F/m^2": {"F/m^2": (1.0, 0.0), "F/cm^2": (1e4, 0.0), "mF/cm^2": (10.0, 0.0),
              "uF/cm^2": (1e-2, 0.0), "µF/cm^2": (1e-2, 0.0), "μF/cm^2": (1e-2, 0.0)},
    # an areal charge: 1 mAh/cm² = 3.6 C/cm² = 36 000 C/m²
    "C/m^2": {"C/m^2": (1.0, 0.0), "C/cm^2": (1e4, 0.0), "mC/cm^2": (10.0, 0.0),
              "mAh/cm^2": (3.6e4, 0.0), "uAh/cm^2": (36.0, 0.0), "µAh/cm^2": (36.0, 0.0),
              "μAh/cm^2": (36.0, 0.0)},
    # a constant-phase element's Q: F·s^(n−1) (= S·s^n); no pint unit spells it, so only
    # these spellings (and a plain number, taken as SI) are read
    "F s^(n-1)": {"F s^(n-1)": (1.0, 0.0), "F·s^(n-1)": (1.0, 0.0), "S s^n": (1.0, 0.0),
                  "S·s^n": (1.0, 0.0), "uF s^(n-1)": (1e-6, 0.0), "µF s^(n-1)": (1e-6, 0.0)},
    "F": {"F": (1.0, 0.0), "mF": (1e-3, 0.0), "uF": (1e-6, 0.0), "µF": (1e-6, 0.0),
          "μF": (1e-6, 0.0), "nF": (1e-9, 0.0), "pF": (1e-12, 0.0)},
    "": {"": (1.0, 0.0), "%": (0.01, 0.0)},
}
_NOUNS = {"ohm": "resistance", "s": "duration", "V": "voltage", "A": "current",
          "K": "temperature", "ΔK": "temperature difference", "S/m": "conductivity",
          "J": "energy", "A/m^2": "current density", "F/m^2": "capacitance per area",
          "C/m^2": "charge per area",
          "F s^(n-1)": "CPE coefficient", "F": "capacitance", "": "plain number"}
#: What pint converts to, where the SI unit's name here is not one pint reads.
_PINT_TARGET = {"": "dimensionless", "ΔK": "kelvin", "F s^(n-1)": "", "F": "farad"}
_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")


def sim_value(sim: Mapping[str, Any], key: str, default: str | float, si_unit: str) -> float:
    """``sim[key]`` (or ``default``) in ``si_unit``; a plain number is taken as already SI."""
    raw = sim.get(key, default)
    try:
        return to_si(raw, si_unit)
    except ValueError as error:
        raise ValueError(f"[sim] {key} = {raw!r}: {error}") from None


def to_si(raw: object, si_unit: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"expected a {_NOUNS[si_unit]}, got {type(raw).__name__}")
    if not isinstance(raw, str):
        value = float(raw)
    else:
        match = _QUANTITY.match(raw)
        if match is None:
            raise ValueError(f"expected a {_NOUNS[si_unit]} like '1 {si_unit}'")
        number, unit = float(match.group(1)), match.group(2)
        known = _UNITS[si_unit].get(unit)
        if known is not None:
            value = number * known[0] + known[1]
        elif unit == "":
            value = number  # a number in a string: SI, as for a bare number
        else:
            value = _with_pint(number, unit, si_unit)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _with_pint(number: float, unit: str, si_unit: str) -> float:
    import pint

    target = _PINT_TARGET.get(si_unit, si_unit)
    if not target:
        raise ValueError(f"{unit!r} is not a unit of {_NOUNS[si_unit]}")
    registry = _registry()
    try:
        quantity = registry.Quantity(number, unit)
        return float(quantity.to(target).magnitude)
    except (pint.errors.PintError, AttributeError, TypeError, ValueError) as error:
        raise ValueError(f"{unit!r} is not a unit of {_NOUNS[si_unit]}") from error


@functools.cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
