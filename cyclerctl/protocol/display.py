"""SI floats back into the units a lab reads: mA, mA/cm², C/20, 4.30 V, 10 min, 1 d 3 h."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from cyclerctl.plan import CellSummary, EndCondition, RecordCriteria, Ref, SafetyLimit, Value

#: Loop variables in scope while rendering: name → the values it takes (SI).
Ranges = Mapping[str, Sequence[float]]


def number(x: float, digits: int = 4) -> str:
    """Significant digits, no exponent for lab-sized numbers: 0.1979, 0.0099, 15."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    text = f"{x:.{digits}g}"
    if "e" in text and 1e-6 <= abs(x) < 1e6:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        text = f"{x:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text


def frequency(f_Hz: float) -> str:
    """100 kHz, 1 Hz, 0.1 Hz: the prefix a lab writes on a spectrum."""
    for scale, unit in ((1e6, "MHz"), (1e3, "kHz")):
        if f_Hz >= scale:
            return f"{number(f_Hz / scale)} {unit}"
    return f"{number(f_Hz)} Hz"


def celsius(kelvin: float) -> str:
    return f"{number(kelvin - 273.15, 4)} °C"


def volts(v: float) -> str:
    text = f"{v:.3f}"
    return (text[:-1] if text.endswith("0") else text) + " V"


def c_rate(rate: float) -> str:
    """1.0 → 1C, 0.1 → C/10, 0.05 → C/20, 0.3 → 0.3C."""
    if rate <= 0:
        return "0C"
    if rate < 1 and _near_int(1 / rate):
        return f"C/{round(1 / rate)}"
    if _near_int(rate):
        return f"{round(rate)}C"
    return f"{number(rate, 3)}C"


def nice_c_rate(rate: float) -> bool:
    return rate > 0 and (_near_int(rate) or (rate < 1 and _near_int(1 / rate)))


def _near_int(x: float) -> bool:
    return abs(x - round(x)) <= 1e-6 * max(1.0, abs(x))


def duration(seconds: float) -> str:
    """A condition's time in the unit it was most likely written in: 10 min, 15 h, 30 s."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size and _near_int(seconds / size):
            return f"{round(seconds / size)} {unit}"
    if seconds >= 1 or seconds == 0:
        return f"{number(seconds)} s"
    return f"{number(seconds * 1e3)} ms"


def eta(seconds: float) -> str:
    """A long time as a lab says it: 1 d 3 h 20 min (whole minutes; seconds under 1 min)."""
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


def milliamps(current_A: float) -> str:
    return f"{number(current_A * 1e3)} mA"


def current_columns(value: Value | None, cell: CellSummary, ranges: Ranges) -> tuple[str, str, str]:
    """A step current as (mA, mA/cm², C-rate) texts; a ramp shows its range."""
    if value is None:
        return "", "", ""
    if isinstance(value, Ref):
        values = [value.factor * v for v in ranges.get(value.variable, ())]
        if not values:
            return f"{{{value.variable}}}", "", ""
        low, high = min(values, key=abs), max(values, key=abs)
        in_mA = f"{number(low * 1e3)}…{number(high * 1e3)}"
        per_cm2 = f"{number(low / cell.area_m2 * 0.1)}…{number(high / cell.area_m2 * 0.1)}"
        return in_mA, per_cm2, ""
    capacity = cell.nominal_capacity_Ah
    rate = c_rate(abs(value) / capacity) if capacity else ""
    sign = "+" if value > 0 else ""
    return f"{sign}{number(value * 1e3)}", f"{sign}{number(value / cell.area_m2 * 0.1)}", rate


def current(value: Value | None, cell: CellSummary, ranges: Ranges) -> str:
    """A step current: "+0.1979 mA (+0.175 mA/cm², 1C)"."""
    in_mA, per_cm2, rate = current_columns(value, cell, ranges)
    if isinstance(value, Ref):
        return f"{{{value.variable}}}: {in_mA} mA ({per_cm2} mA/cm²)" if per_cm2 else in_mA
    if not in_mA:
        return in_mA
    details = ", ".join(p for p in (f"{per_cm2} mA/cm²", rate) if p)
    return f"{in_mA} mA ({details})"


def ref(value: Ref, ranges: Ranges, show: Callable[[float], str], unit: str) -> str:
    """``{j}`` with the range the bound value takes: "{j} (0.0113…0.5655 mA)"."""
    values = ranges.get(value.variable, ())
    if not values:
        return f"{{{value.variable}}} × {number(value.factor)}"
    bound = [value.factor * v for v in values]
    return f"{{{value.variable}}} ({show(min(bound))}…{show(max(bound))} {unit})"


def condition(end: EndCondition, cell: CellSummary, ranges: Ranges) -> str:
    """One end condition as the table shows it: "V ≥ 4.30 V", "|I| < C/20 (0.0099 mA)"."""
    kind, value = end.kind, end.value
    if isinstance(value, Ref):
        units = {
            "voltage_above": ("V", 1.0),
            "voltage_below": ("V", 1.0),
            "current_below": ("mA", 1e3),
            "time": ("s", 1.0),
            "charge": ("mAh", 1 / 3.6),
            "dvdt_below": ("mV/s", 1e3),
        }
        unit, scale = units.get(kind, ("", 1.0))
        shown = ref(value, ranges, lambda a: number(a * scale), unit)
        return f"{_SYMBOL[kind]} {shown}"
    if kind in ("voltage_above", "voltage_below"):
        return f"{_SYMBOL[kind]} {volts(value)}"
    if kind == "current_below":
        capacity = cell.nominal_capacity_Ah
        if capacity and nice_c_rate(value / capacity):
            return f"|I| < {c_rate(value / capacity)} ({number(value * 1e3, 2)} mA)"
        return f"|I| < {milliamps(value)}"
    if kind == "time":
        return f"t ≥ {duration(value)}"
    if kind == "charge":
        return f"|Q| ≥ {number(value / 3.6)} mAh"
    if kind == "dvdt_below":
        per_hour = value * 3.6e6  # V/s → mV/h
        rate = f"{number(per_hour, 3)} mV/h" if per_hour < 100 else f"{number(value * 1e3, 3)} mV/s"
        return f"|dV/dt| < {rate} over {duration(end.window_s)}"
    return f"short: |V| < {number(value * 100, 3)}% of settled within {duration(end.window_s)}"


_SYMBOL = {
    "voltage_above": "V ≥",
    "voltage_below": "V ≤",
    "current_below": "|I| <",
    "time": "t ≥",
    "charge": "|Q| ≥",
    "dvdt_below": "|dV/dt| <",
}


def safety(limit: SafetyLimit) -> str:
    if limit.quantity == "voltage_min":
        text = f"V < {volts(limit.value)}"
    elif limit.quantity == "voltage_max":
        text = f"V > {volts(limit.value)}"
    elif limit.quantity == "current_max":
        text = f"|I| > {milliamps(limit.value)}"
    else:
        text = f"T > {number(limit.value - 273.15, 3)} °C"
    return text + (f" for > {duration(limit.hold_s)}" if limit.hold_s > 0 else "")


def record(criteria: RecordCriteria) -> str:
    parts = []
    if criteria.every_s is not None:
        parts.append(f"every {duration(criteria.every_s)}")
    if criteria.delta_V is not None:
        parts.append(f"ΔV ≥ {number(criteria.delta_V * 1e3)} mV")
    if criteria.delta_I is not None:
        parts.append(f"ΔI ≥ {milliamps(criteria.delta_I)}")
    return ", ".join(parts) or "every point"
