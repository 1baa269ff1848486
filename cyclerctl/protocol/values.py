"""Field values: parameter references, loop variables and units → SI floats or Refs.

:class:`ValueReader` reads one field's text the way every field is read: a reference
("{rate}", "-{j}") is looked up first (loop variables in scope, then parameters), then
the text is parsed as one of the kinds the field accepts and converted with the cell
(mA/cm² × area, C-rate × nominal capacity). Problems go to the file's ErrorSink.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cyclerctl.plan import CellSummary, Ref, Value

from .errors import ErrorSink, KeyPath
from .parameters import REFERENCE, ParameterValue, ResolvedParameter
from .units import describe_kinds, parse_any


@dataclass(frozen=True)
class RampVariable:
    """A loop variable: the values it takes, in the SI unit of its kind."""

    name: str
    kind: str  # one of steps.RAMP_KINDS
    values: tuple[float, ...]  # A/m², A, 1/h for C-rates, V, s, C


@dataclass(frozen=True)
class FieldUse:
    """What a field's text stands for once a reference is looked up."""

    sign: float = 1.0
    text: str | None = None  # a quantity string (literal or a parameter's)
    variable: RampVariable | None = None
    parameter: str | None = None
    value: ParameterValue | None = None  # a count or list parameter's value


class ValueReader:
    def __init__(
        self,
        sink: ErrorSink,
        parameters: Mapping[str, ResolvedParameter],
        declared: set[str],
        cell: CellSummary,
    ) -> None:
        self.sink = sink
        self.parameters = parameters
        self.declared = declared
        self.cell = cell
        self.scopes: list[RampVariable] = []  # loop variables, innermost last

    def to_si(self, kind: str, value: float) -> float:
        """A value of ``kind`` in the SI unit of the fields that take it (A for currents, C)."""
        if kind in ("current_density", "areal_charge"):
            return value * self.cell.area_m2
        if kind == "c_rate":
            if self.cell.nominal_capacity_Ah is None:
                raise ValueError(
                    "a C-rate needs the cell's capacity, but the cell file gives neither "
                    "nominal_capacity nor an active mass with specific_capacity"
                )
            return value * self.cell.nominal_capacity_Ah  # (1/h) × Ah = A
        return value

    def use(self, raw: str, path: KeyPath) -> FieldUse | None:
        match = REFERENCE.match(raw)
        if match is None:
            if "{" in raw or "}" in raw:
                self.sink.add(
                    path, f"a reference is the whole value, '{{name}}' or '-{{name}}'; got {raw!r}"
                )
                return None
            return FieldUse(text=raw)
        name, sign = match["name"], -1.0 if match["minus"] else 1.0
        for variable in reversed(self.scopes):
            if variable.name == name:
                return FieldUse(sign=sign, variable=variable)
        parameter = self.parameters.get(name)
        if parameter is None:
            if name not in self.declared:  # (a declared one with a bad default is reported)
                known = ", ".join(sorted(self.declared)) or "(none)"
                here = ", ".join(v.name for v in self.scopes)
                extra = f"; loop variables here: {here}" if here else ""
                self.sink.add(
                    path, f"unknown parameter '{name}'; the parameters are: {known}{extra}"
                )
            return None
        if isinstance(parameter.value, str):
            return FieldUse(sign=sign, text=parameter.value, parameter=name)
        return FieldUse(sign=sign, parameter=name, value=parameter.value)

    def parse(self, use: FieldUse, path: KeyPath, kinds: Sequence[str]) -> tuple[str, float] | None:
        """``(kind, signed value in the kind's SI unit)`` of a text or parameter use."""
        if use.text is None:
            what = "a count" if isinstance(use.value, int) else "a list"
            self.sink.add(
                path,
                f"parameter '{use.parameter}' is {what} ({use.value!r}); "
                f"expected {describe_kinds(kinds)}",
            )
            return None
        try:
            kind, value = parse_any(use.text, kinds)
        except ValueError as exc:
            origin = f" (from parameter '{use.parameter}')" if use.parameter else ""
            self.sink.add(path, f"{exc}{origin}")
            return None
        return kind, use.sign * value

    def quantity(
        self,
        raw: str,
        path: KeyPath,
        kinds: Sequence[str],
        *,
        magnitude: bool = False,
        sign: float | None = None,
        follows_loop: bool = True,
    ) -> Value | None:
        """A field's SI value; a Ref when it follows a loop variable (``follows_loop``).

        ``magnitude``: the field is compared on |value|. ``sign``: the magnitude takes
        this sign (a step's ``direction``).
        """
        use = self.use(raw, path)
        if use is None:
            return None
        if use.variable is not None:
            return self.reference(use, use.variable, path, kinds, magnitude, sign, follows_loop)
        parsed = self.parse(use, path, kinds)
        if parsed is None:
            return None
        try:
            value = self.to_si(*parsed)
        except ValueError as exc:
            self.sink.add(path, str(exc))
            return None
        if sign is not None:
            return sign * abs(value)
        return abs(value) if magnitude else value

    def reference(
        self,
        use: FieldUse,
        variable: RampVariable,
        path: KeyPath,
        kinds: Sequence[str],
        magnitude: bool,
        sign: float | None,
        follows_loop: bool,
    ) -> Ref | None:
        if not follows_loop:
            self.sink.add(
                path,
                f"loop variable '{variable.name}' can set currents, voltages and end "
                "conditions only",
            )
            return None
        if variable.kind not in kinds:
            self.sink.add(
                path,
                f"loop variable '{variable.name}' is {describe_kinds([variable.kind])}; "
                f"expected {describe_kinds(kinds)}",
            )
            return None
        try:
            factor = use.sign * self.to_si(variable.kind, 1.0)
        except ValueError as exc:
            self.sink.add(path, str(exc))
            return None
        if (sign is not None or magnitude) and min(variable.values) < 0 < max(variable.values):
            self.sink.add(
                path, f"loop variable '{variable.name}' changes sign; its magnitude is used here"
            )
            return None
        if sign is not None:
            factor = sign * abs(factor) * (1.0 if min(variable.values) >= 0 else -1.0)
        elif magnitude:
            factor = abs(factor) * (1.0 if min(variable.values) >= 0 else -1.0)
        return Ref(variable.name, factor)

    def number(
        self, raw: str, path: KeyPath, kinds: Sequence[str], *, positive: bool = False
    ) -> float | None:
        """A plain SI float (no loop variable allowed)."""
        value = self.quantity(raw, path, kinds, follows_loop=False)
        if isinstance(value, Ref):
            return None
        if value is not None and positive and not value > 0:
            self.sink.add(path, f"must be greater than zero, got {raw!r}")
            return None
        return value

    def whole(
        self, raw: int | str, path: KeyPath, what: str, minimum: int = 1, *, maximum: int
    ) -> int | None:
        """A count: an int, or '{name}' of a count parameter, within ``maximum``."""
        origin, floor = "", minimum
        if isinstance(raw, int):
            value = raw
        else:
            use = self.use(raw, path)
            if use is None:
                return None
            if use.parameter is None or not isinstance(use.value, int):
                shown = (
                    f"parameter '{use.parameter}' = {use.text or use.value!r}"
                    if use.parameter
                    else repr(raw)
                )
                if use.variable is not None:
                    shown = f"loop variable '{use.variable.name}'"
                self.sink.add(
                    path, f"{what} must be a whole number or '{{parameter}}', got {shown}"
                )
                return None
            value, origin = int(use.sign) * use.value, f" (parameter '{use.parameter}')"
            declared_min = self.parameters[use.parameter].spec.min
            if what == "loop count" and isinstance(declared_min, int | float) and declared_min <= 0:
                floor = 0  # the protocol lets this loop be skipped (e.g. no formation)
        if value < floor:
            wanted = "a positive whole number" if floor >= 1 else f"a whole number ≥ {floor}"
            self.sink.add(path, f"{what} must be {wanted}, got {value}{origin}")
            return None
        if value > maximum:
            self.sink.add(path, f"{what} must be at most {maximum}, got {value}{origin}")
            return None
        return value

    def voltage_or_ocv(self, raw: str, path: KeyPath) -> float | None:
        use = self.use(raw, path)
        if use is not None and use.text is not None and use.text.strip().lower() == "ocv":
            return None
        return self.number(raw, path, ("voltage",))
