"""The launch form's logic, apart from its widgets: protocol parameters with their
defaults, a cell entered by hand, and the compiled plan or the CLI's own error lines."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass

from cyclerctl.plan import Plan
from cyclerctl.protocol import InputError, LibraryEntry, ProtocolError, load_plan
from cyclerctl.protocol.compiler import plan_from_texts

#: the fields of a cell entered by hand, as a cell file names them, with a hint each
CELL_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name, e.g. Li|Cu test 3"),
    ("chemistry", "chemistry, e.g. Li|Cu"),
    ("diameter", "diameter, e.g. 12 mm"),
    ("area", "or area, e.g. 1.13 cm^2"),
    ("loading", "loading, e.g. 8.8 mg/cm^2"),
    ("active_mass", "or active mass, e.g. 1.2 mg"),
    ("specific_capacity", "specific capacity, e.g. 175 mAh/g"),
    ("nominal_capacity", "or capacity, e.g. 2 mAh"),
)
#: what messages call a cell entered in the form
ENTERED_CELL = "entered cell"


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    default: str
    description: str


def parameters_of(entry: LibraryEntry) -> list[Parameter]:
    """The protocol's [parameters] with their defaults as the file writes them."""
    try:
        data = tomllib.loads(entry.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # compiling it says what is wrong, with file and line
    table = data.get("parameters", {})
    found = []
    if isinstance(table, dict):
        for name, spec in table.items():
            if isinstance(spec, dict):
                default, description = spec.get("default", ""), spec.get("description", "")
            else:
                default, description = spec, ""
            found.append(Parameter(str(name), str(default), str(description)))
    return found


def cell_text(values: Mapping[str, str]) -> str:
    """A cell file from the form's fields (blank ones left out)."""
    lines = []
    for key, _ in CELL_FIELDS:
        value = values.get(key, "").strip()
        if value:
            lines.append(f"{key} = {_toml_string(value)}")
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def overrides_of(parameters: list[Parameter], values: Mapping[str, str]) -> dict[str, str]:
    """Only what the operator changed: the run records these as its --set values."""
    changed = {}
    for p in parameters:
        value = values.get(p.name, p.default).strip()
        if value != p.default:
            changed[p.name] = value
    return changed


def compile_launch(
    protocol: LibraryEntry,
    cell: str | None,
    entered_cell: Mapping[str, str] | None,
    overrides: Mapping[str, str],
) -> Plan:
    """The plan to submit; ProtocolError (PATH:LINE: field: message lines) if not valid.
    ``cell`` is a library cell name; None uses ``entered_cell``."""
    if cell is not None:
        return load_plan(protocol.name, cell, overrides)
    try:
        protocol_text = protocol.path.read_text(encoding="utf-8")
    except OSError as exc:
        unreadable = InputError(str(protocol.path), None, "", f"cannot read it: {exc}")
        raise ProtocolError([unreadable]) from None
    return plan_from_texts(
        protocol_text,
        cell_text(entered_cell or {}),
        overrides,
        protocol_source=protocol.name,
        cell_source=ENTERED_CELL,
    )
