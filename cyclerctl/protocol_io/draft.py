"""A protocol read from another tool's file, in our protocol file's own words.

Readers build a :class:`Draft` (steps as the tables of ``protocols/*.toml``: ``type``,
``current``, ``until`` …, every value a quantity string with its unit) and
:func:`render_toml` writes it as a protocol file that ``cyclerctl validate`` reads. Values
are written as numbers with units, not as parameters: an imported protocol says exactly what
the file said, and a scientist turns numbers into parameters where that helps.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

StepTable = dict[str, Any]


@dataclass
class Draft:
    name: str
    description: str = ""
    source: str = ""  # the file it came from, for the header comment
    notes: list[str] = field(default_factory=list)  # written as comments at the top
    record: dict[str, str] = field(default_factory=dict)
    safety: dict[str, Any] = field(default_factory=dict)
    steps: list[StepTable] = field(default_factory=list)
    cell_hints: str | None = None  # a cell file stub, TOML text


# -- quantities as our protocol files write them ---------------------------------------------


def number(value: float) -> str:
    """Up to 10 significant digits: a unit conversion's float noise stays out of the file."""
    text = f"{value:.10g}"
    return "0" if text == "-0" else text


def volts(value_V: float) -> str:
    return f"{number(value_V)} V"


def amps(value_A: float) -> str:
    """mA for most cells, uA below 1 mA (how a lab writes a coin cell's currents)."""
    if value_A != 0 and abs(value_A) < 1e-3:
        return f"{number(value_A * 1e6)} uA"
    return f"{number(value_A * 1e3)} mA"


def seconds(value_s: float) -> str:
    return f"{number(value_s)} s"


def coulombs(value_C: float) -> str:
    return f"{number(value_C / 3.6)} mAh"


def hertz(value_Hz: float) -> str:
    return f"{number(value_Hz)} Hz"


# -- TOML -------------------------------------------------------------------------------


def render_toml(draft: Draft) -> str:
    """The protocol file text. The commonest per-step ``record`` becomes ``[record]``."""
    steps = [dict(s) for s in draft.steps]
    record = dict(draft.record)
    if not record:
        common = Counter(
            json.dumps(s.get("record"), sort_keys=True) for s in _all_steps(steps) if "record" in s
        ).most_common(1)
        if common:
            record = json.loads(common[0][0])
    _drop_record(steps, record)
    lines = [f"# Imported from {draft.source}" if draft.source else "# Imported protocol"]
    lines += [f"# {note}" for note in draft.notes]
    lines += [f"name = {_string(draft.name)}"]
    if draft.description:
        lines.append(f"description = {_string(draft.description)}")
    if record:
        lines += ["", "[record]", *(f"{k} = {_value(v)}" for k, v in record.items())]
    if draft.safety:
        lines += ["", "[safety]", *(f"{k} = {_value(v)}" for k, v in draft.safety.items())]
    _tables(lines, steps, "steps", 0)
    return "\n".join(lines) + "\n"


def _all_steps(steps: list[StepTable]) -> list[StepTable]:
    out: list[StepTable] = []
    for s in steps:
        if s.get("type") == "loop":
            out += _all_steps(s["steps"])
        else:
            out.append(s)
    return out


def _drop_record(steps: list[StepTable], base: dict[str, str]) -> None:
    for s in steps:
        if s.get("type") == "loop":
            _drop_record(s["steps"], base)
        elif s.get("record") == base:
            del s["record"]


def _tables(lines: list[str], steps: list[StepTable], key: str, depth: int) -> None:
    indent = "  " * depth
    for s in steps:
        lines.append("")
        comment = s.get("_comment")
        if comment:
            lines += [f"{indent}# {c}" for c in str(comment).splitlines()]
        lines.append(f"{indent}[[{key}]]")
        for k, v in s.items():
            if k in ("steps", "_comment"):
                continue
            lines.append(f"{indent}{k} = {_value(v)}")
        if s.get("type") == "loop":
            _tables(lines, s["steps"], f"{key}.steps", depth + 1)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string
