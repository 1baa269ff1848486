"""The cell file: electrode geometry and capacity, which turn mA/cm² and C-rates into A.

Exactly one of ``diameter`` / ``area``; the active mass either directly
(``active_mass``) or as an areal ``loading`` × area; 1C from ``nominal_capacity`` or
from active mass × ``specific_capacity``. The ``[sim]`` table is the simulator's and
passes through as written (only its ``model`` is checked to be a name).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from cyclerctl.plan import CellSummary

from .errors import ErrorSink, KeyPath
from .model import Strict
from .toml_positions import TomlDocument
from .units import CURRENT_KINDS, parse_any
from .validation import validate


class CellFile(Strict):
    """A cell file (TOML)."""

    model_config = Strict.model_config | {"title": "cyclerctl cell"}

    name: str
    chemistry: str = Field("", description="e.g. 'NCM622|Li'")
    description: str = ""
    diameter: str | None = Field(None, description="electrode disk diameter ('12 mm')")
    area: str | None = Field(None, description="electrode area ('1.131 cm^2')")
    active_mass: str | None = Field(None, description="active material mass ('1.2 mg')")
    loading: str | None = Field(None, description="areal active mass ('8.8 mg/cm^2')")
    specific_capacity: str | None = Field(None, description="per active mass ('175 mAh/g')")
    nominal_capacity: str | None = Field(
        None, description="the capacity that defines 1C ('2 mAh' or '1.5 mAh/cm^2')"
    )
    thickness: str | None = Field(
        None, description="electrolyte (membrane) thickness between the electrodes ('100 um')"
    )
    voltage_min: str | None = Field(
        None,
        description="the lowest voltage the cell may see ('3.0 V'); protocols below it are refused",
    )
    voltage_max: str | None = Field(
        None,
        description="the highest voltage the cell may see ('4.3 V'); protocols above it "
        "are refused",
    )
    current_max: str | None = Field(
        None, description="the largest |I| the cell may carry ('10 mA', '2 mA/cm^2' or '2C')"
    )
    sim: dict[str, Any] = Field(default_factory=dict, description="simulator settings, as is")


def compile_cell(doc: TomlDocument, source: str, sink: ErrorSink) -> CellSummary | None:
    """The cell summary, or None with the problems added to ``sink``."""
    cell = validate(CellFile, doc.data, sink)
    if cell is None:
        return None
    before = len(sink.errors)

    def positive(key: str, text: str | None, kinds: tuple[str, ...]) -> tuple[str, float] | None:
        if text is None:
            return None
        path: KeyPath = (key,)
        try:
            kind, value = parse_any(text, kinds)
        except ValueError as exc:
            sink.add(path, str(exc))
            return None
        if not value > 0:
            sink.add(path, f"must be greater than zero, got {text!r}")
            return None
        return kind, value

    area_m2: float | None = None
    if (cell.diameter is None) == (cell.area is None):
        where: KeyPath = ("area",) if cell.area is not None else ()
        sink.add(where, "give the electrode's diameter or its area (exactly one)", field="area")
    elif (diameter := positive("diameter", cell.diameter, ("length",))) is not None:
        area_m2 = math.pi * (diameter[1] / 2) ** 2
    elif (area := positive("area", cell.area, ("area",))) is not None:
        area_m2 = area[1]

    mass_kg: float | None = None
    if cell.active_mass is not None and cell.loading is not None:
        sink.add(("loading",), "give active_mass or loading, not both")
    elif (mass := positive("active_mass", cell.active_mass, ("mass",))) is not None:
        mass_kg = mass[1]
    elif (loading := positive("loading", cell.loading, ("areal_mass",))) is not None:
        mass_kg = None if area_m2 is None else loading[1] * area_m2

    specific_Ah_kg: float | None = None
    capacity_Ah: float | None = None
    if cell.specific_capacity is not None and cell.nominal_capacity is not None:
        sink.add(
            ("nominal_capacity",),
            "give specific_capacity or nominal_capacity, not both (either one defines 1C)",
        )
    elif specific := positive("specific_capacity", cell.specific_capacity, ("specific_capacity",)):
        specific_Ah_kg = specific[1] / 3600.0
        if cell.active_mass is None and cell.loading is None:
            sink.add(("specific_capacity",), "needs the active mass: give active_mass or loading")
        elif mass_kg is not None:
            capacity_Ah = mass_kg * specific_Ah_kg
    elif nominal := positive("nominal_capacity", cell.nominal_capacity, ("charge", "areal_charge")):
        kind, value = nominal
        if kind == "charge":
            capacity_Ah = value / 3600.0
        elif area_m2 is not None:
            capacity_Ah = value * area_m2 / 3600.0

    thickness = positive("thickness", cell.thickness, ("length",))
    voltage_min = _voltage("voltage_min", cell.voltage_min, sink)
    voltage_max = _voltage("voltage_max", cell.voltage_max, sink)
    if voltage_min is not None and voltage_max is not None and not voltage_min < voltage_max:
        sink.add(("voltage_min",), "voltage_min must be below voltage_max")
    current_max_A: float | None = None
    if (current_max := positive("current_max", cell.current_max, CURRENT_KINDS)) is not None:
        kind, value = current_max
        if kind == "current":
            current_max_A = value
        elif kind == "current_density" and area_m2 is not None:
            current_max_A = value * area_m2
        elif kind == "c_rate" and capacity_Ah is not None:
            current_max_A = value * capacity_Ah
        elif kind == "c_rate" and len(sink.errors) == before:
            sink.add(("current_max",), "a C-rate needs the cell's capacity (nominal_capacity)")
    model = cell.sim.get("model")
    if model is not None and not isinstance(model, str):
        sink.add(("sim", "model"), f"expected the name of a simulator model, got {model!r}")

    if len(sink.errors) > before or area_m2 is None:
        return None
    return CellSummary(
        name=cell.name,
        chemistry=cell.chemistry,
        area_m2=area_m2,
        nominal_capacity_Ah=capacity_Ah,
        active_mass_kg=mass_kg,
        specific_capacity_Ah_kg=specific_Ah_kg,
        thickness_m=None if thickness is None else thickness[1],
        sim=dict(cell.sim),
        source=source,
        voltage_min_V=voltage_min,
        voltage_max_V=voltage_max,
        current_max_A=current_max_A,
    )


def _voltage(key: str, text: str | None, sink: ErrorSink) -> float | None:
    if text is None:
        return None
    try:
        return parse_any(text, ("voltage",))[1]
    except ValueError as exc:
        sink.add((key,), str(exc))
        return None
