"""The export formats, named once: the writer dispatches on them, the CLI offers them."""

from __future__ import annotations

# csv: Battery Data Format columns + a JSON sidecar; mpt: EC-Lab-style text; parquet: BDF columns
# with the metadata inside the file; cycles-csv / cycles-parquet: the per-cycle table;
# ro-crate: a directory, all of these and the run's metadata as an RO-Crate (export/rocrate.py)
FORMATS: tuple[str, ...] = ("csv", "mpt", "parquet", "cycles-csv", "cycles-parquet", "ro-crate")
