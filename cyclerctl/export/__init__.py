"""`cyclerctl export RUN --format F -o PATH`: one run's points to a file, streaming.

Formats:
- ``csv``: Battery Data Format (BDF) columns (:mod:`.bdf`), plus a JSON sidecar
  ``<PATH>.json`` with the run's metadata (protocol, cell, instrument, steps, results);
- ``parquet``: the same BDF table, metadata also in the file's key-value metadata;
- ``mpt``: EC-Lab-style text (:mod:`.mpt`), readable by EC-Lab-aware tools;
- ``cycles-csv`` / ``cycles-parquet``: the per-cycle table of a cycling run, one row per
  cycle, its metadata in a JSON sidecar / the Parquet metadata (:mod:`.cycles`).

Differential capacity (dQ/dV, dV/dQ of chosen cycles) is written by
:func:`export_differential_capacity`.

Samples are read in keyset pages (:mod:`.stream`) and written page by page, so memory
stays bounded whatever the run's length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cyclerctl.export.formats import FORMATS

if TYPE_CHECKING:
    from cyclerctl.export.stream import iter_impedance, iter_samples
    from cyclerctl.export.writer import export_differential_capacity, export_run, metadata

__all__ = [
    "FORMATS",
    "export_differential_capacity",
    "export_run",
    "iter_impedance",
    "iter_samples",
    "metadata",
]


# the writer needs the store, numpy and pyarrow (a second to import): it loads on first use, so
# `cyclerctl --help` and every other command read FORMATS without paying for it (PEP 562)
def __getattr__(name: str) -> Any:
    if name == "export_run":  # every format, ro-crate (a directory built on the others) too
        from cyclerctl.export import rocrate

        return rocrate.export_run
    if name in ("export_differential_capacity", "metadata"):
        from cyclerctl.export import writer

        return getattr(writer, name)
    if name in ("iter_impedance", "iter_samples"):
        from cyclerctl.export import stream

        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
