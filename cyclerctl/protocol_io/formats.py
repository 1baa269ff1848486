"""The protocol file formats, named once: the writers dispatch on them, the CLI offers them
(without importing the writers)."""

from __future__ import annotations

#: Format names for ``--format`` and what each writes.
EXPORT_FORMATS: dict[str, str] = {
    "mps": "EC-Lab settings file (Modulo Bat), text in the Windows code page",
    "neware-xml": "Neware BTS 8 step file (XML)",
    "pybamm": "a pybamm.Experiment, as Python source",
}
#: Suffixes import_protocol reads.
IMPORT_SUFFIXES = (".mps", ".xml", ".json")
