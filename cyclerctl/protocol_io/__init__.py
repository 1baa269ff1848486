"""Protocols in and out of other tools' files: EC-Lab settings (``.mps``), Neware BTS step
files (``.xml``), aurora-unicycler JSON, and PyBaMM experiments.

Two entry points for the CLI:

* :func:`import_protocol` — a foreign file → our protocol file text, and a cell file stub
  from what the file says about the cell (or None);
* :func:`export_protocol` — a compiled :class:`~cyclerctl.plan.Plan` → the text of a file in
  one of :data:`EXPORT_FORMATS`.

Both raise :class:`ProtocolIOError` (exit 2) with the file, step/sequence and field.
"""

from __future__ import annotations

from pathlib import Path

from cyclerctl.plan import Loop, Plan

from .draft import Draft, render_toml
from .errors import ProtocolIOError
from .formats import EXPORT_FORMATS, IMPORT_SUFFIXES


def import_protocol(path: str | Path) -> tuple[str, str | None]:
    """Read ``path`` (``.mps``, ``.xml`` or ``.json``): (protocol TOML text, cell hints TOML
    text or None)."""
    draft = read_draft(path)
    return render_toml(draft), draft.cell_hints


def read_draft(path: str | Path) -> Draft:
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ProtocolIOError(f"{file}: cannot read: {exc.strerror or exc}") from None
    suffix = file.suffix.lower()
    if suffix == ".mps":
        from .eclab_import import import_mps

        return import_mps(data, str(file))
    if suffix == ".xml":
        from .neware_io import import_neware

        return import_neware(data, str(file))
    if suffix == ".json":
        from .unicycler import import_unicycler

        return import_unicycler(data, str(file))
    raise ProtocolIOError(
        f"{file}: cannot tell the format from {suffix or 'no suffix'!r}; "
        f"read are: {', '.join(IMPORT_SUFFIXES)}"
    )


def export_protocol(plan: Plan, fmt: str) -> str | bytes:
    """``plan`` as a file of format ``fmt`` (a key of :data:`EXPORT_FORMATS`): ``bytes``
    for ``mps`` (EC-Lab reads the Windows code page), text otherwise."""
    return export_protocol_with_notes(plan, fmt)[0]


def export_protocol_with_notes(plan: Plan, fmt: str) -> tuple[str | bytes, list[str]]:
    """As :func:`export_protocol`, with what was changed to fit the format (loops over a
    variable unrolled …), one sentence each, for the CLI to print on stderr."""
    if fmt == "mps":
        from .eclab_export import export_mps_with_notes

        text, notes = export_mps_with_notes(plan)
        return text.encode("cp1252"), notes
    if fmt == "neware-xml":
        from .neware_io import export_neware_with_notes

        return export_neware_with_notes(plan)
    if fmt == "pybamm":
        from .pybamm_experiment import experiment_source

        looped = any(isinstance(node, Loop) for node in plan.body)
        return experiment_source(plan), ["loops unrolled into PyBaMM cycles"] if looped else []
    raise ProtocolIOError(f"unknown format {fmt!r}; the formats are: {', '.join(EXPORT_FORMATS)}")


__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_SUFFIXES",
    "ProtocolIOError",
    "export_protocol",
    "export_protocol_with_notes",
    "import_protocol",
]
