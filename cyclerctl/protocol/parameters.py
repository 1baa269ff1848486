"""Protocol parameters: defaults from the file, ``--set name=value`` overrides, references.

A parameter's kind comes from its default: an int is a count; a quantity string is a
voltage, a current (C-rate, mA or mA/cm², interchangeable), a duration…; a list of
such strings is a list; any other string is a word (e.g. "ocv"). An override must be of
the default's kind. A default like "1C" is read as a C-rate, never as one coulomb.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import ErrorSink, KeyPath
from .model import Parameter
from .units import (
    CHARGE_KINDS,
    CURRENT_KINDS,
    describe_kinds,
    looks_like_quantity,
    parse_any,
    parse_c_rate,
    possible_kinds,
    why_unreadable,
)

ParameterValue = int | str | list[str]

_WHOLE = re.compile(r"^\s*[+-]?[0-9]+\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A reference is a whole value: "{name}" or "-{name}".
REFERENCE = re.compile(r"^\s*(?P<minus>-)?\s*\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")


@dataclass(frozen=True)
class ResolvedParameter:
    name: str
    value: ParameterValue  # as the user sees it, after overrides
    kinds: tuple[str, ...]  # the kinds a string (or each list item) may be; () for counts/words
    spec: Parameter
    overridden: bool


def family(kinds: tuple[str, ...] | set[str]) -> tuple[str, ...]:
    """Every kind interchangeable with ``kinds`` (mA, mA/cm² and C-rates all give a current)."""
    out: list[str] = []
    for kind in kinds:
        group = (
            CURRENT_KINDS
            if kind in CURRENT_KINDS
            else CHARGE_KINDS
            if kind in CHARGE_KINDS
            else (kind,)
        )
        out.extend(k for k in group if k not in out)
    return tuple(out)


def kinds_of(text: str) -> set[str]:
    return {"c_rate"} if parse_c_rate(text) is not None else possible_kinds(text)


def resolve_parameters(
    declared: Mapping[str, Parameter],
    overrides: Mapping[str, str],
    sink: ErrorSink,
    set_sink: ErrorSink,
) -> dict[str, ResolvedParameter]:
    """The parameters after ``--set``.

    Bad defaults are reported to ``sink`` (the file), bad overrides to ``set_sink``.
    """
    resolved: dict[str, ResolvedParameter] = {}
    for name, spec in declared.items():
        where: KeyPath = ("parameters", name)
        if not _NAME.match(name):
            sink.add(where, "a parameter name is letters, digits and _ (not starting with a digit)")
            continue
        kinds = _default_kinds(spec.default, (*where, "default"), sink)
        if kinds is not None:
            resolved[name] = ResolvedParameter(name, spec.default, kinds, spec, False)

    report_unknown_overrides(list(declared), overrides, set_sink)
    for name, text in overrides.items():
        current = resolved.get(name)
        if current is None:
            continue  # its default is already reported
        value = _override(current, text, set_sink)
        if value is not None:
            resolved[name] = ResolvedParameter(name, value, current.kinds, current.spec, True)
    return resolved


def report_unknown_overrides(
    declared: list[str], overrides: Mapping[str, str], set_sink: ErrorSink
) -> None:
    known = ", ".join(declared) or "(this protocol has no parameters)"
    for name in overrides:
        if name not in declared:
            set_sink.add((), f"unknown parameter '{name}'; the parameters are: {known}", field=name)


def _default_kinds(
    default: ParameterValue, where: KeyPath, sink: ErrorSink
) -> tuple[str, ...] | None:
    texts = [default] if isinstance(default, str) else default if isinstance(default, list) else []
    found: list[str] = []
    for i, text in enumerate(texts):
        at = where if isinstance(default, str) else (*where, i)
        if not looks_like_quantity(text):
            continue  # a word such as "ocv"
        kinds = kinds_of(text)
        if not kinds:
            sink.add(at, why_unreadable(text))
            return None
        found.extend(k for k in family(kinds) if k not in found)
    return tuple(found)


def _override(current: ResolvedParameter, text: str, set_sink: ErrorSink) -> ParameterValue | None:
    name = current.name
    default = current.spec.default
    if isinstance(default, int):
        if _WHOLE.match(text):
            return int(text)
        set_sink.add(
            (), f"expected a whole number (the default is {default}), got {text!r}", field=name
        )
        return None
    items = [text] if isinstance(default, str) else _split_list(text)
    for item in items:
        if current.kinds and not (kinds_of(item) & set(current.kinds)):
            shown = default if isinstance(default, str) else ", ".join(default)
            set_sink.add(
                (),
                f"expected {describe_kinds(current.kinds)} (the default is '{shown}'), "
                f"got {item!r}",
                field=name,
            )
            return None
    return items[0] if isinstance(default, str) else items


def _split_list(text: str) -> list[str]:
    body = text.strip().removeprefix("[").removesuffix("]")
    return [item.strip().strip("\"'").strip() for item in body.split(",") if item.strip()]


def check_bounds(
    parameters: Mapping[str, ResolvedParameter],
    to_si: Callable[[str, float], float],
    sink: ErrorSink,
    set_sink: ErrorSink,
) -> set[str]:
    """``min`` / ``max`` of every parameter, compared in SI (a C-rate bound applies in A).

    Returns the names of the parameters out of bounds (reported here, so their uses are not).
    """
    outside_bounds: set[str] = set()
    for name, p in parameters.items():
        for bound_name in ("min", "max"):
            bound = getattr(p.spec, bound_name)
            if bound is None:
                continue
            bound_at: KeyPath = ("parameters", name, bound_name)
            try:
                limit = _as_si(bound, p, to_si)
            except ValueError as exc:
                sink.add(bound_at, str(exc))
                continue
            values = p.value if isinstance(p.value, list) else [p.value]
            for value in values:
                try:
                    number = _as_si(value, p, to_si)
                except ValueError:
                    continue  # a word, or reported where it is used
                outside = number < limit if bound_name == "min" else number > limit
                if outside:
                    outside_bounds.add(name)
                    side = "below the minimum" if bound_name == "min" else "above the maximum"
                    message = f"{value!r} is {side} {bound!r}"
                    if p.overridden:
                        set_sink.add((), message, field=name)
                    else:
                        sink.add(("parameters", name, "default"), message)
    return outside_bounds


def _as_si(value: object, p: ResolvedParameter, to_si: Callable[[str, float], float]) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(p.spec.default, int):
        if not isinstance(value, int | float):
            raise ValueError(f"the parameter is a count: expected a number, got {value!r}")
        return float(value)
    if not isinstance(value, str) or not p.kinds:
        raise ValueError(f"expected a quantity like the default, got {value!r}")
    kind, number = parse_any(value, p.kinds)
    return to_si(kind, number)
