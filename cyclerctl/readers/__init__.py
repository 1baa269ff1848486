"""Readers of other cyclers' files, behind one interface (see :mod:`.base`).

One module per vendor — :mod:`.neware` (fastnda), :mod:`.arbin` (access-parser),
:mod:`.maccor`, :mod:`.bdf`, :mod:`.eclab` — picked by :mod:`.registry`; :mod:`.into_store`
imports files and folders into the Store (``cyclerctl import``). The optional libraries are
the ``import`` extra: ``pip install 'cyclerctl[import]'``.
"""

from cyclerctl.readers.base import (
    RECORD_DTYPE,
    ImportedRun,
    MissingExtra,
    Reader,
    ReadError,
    RunMetadata,
)
from cyclerctl.readers.console import outcome_json, render_progress, render_summary, run_import
from cyclerctl.readers.into_store import (
    ImportOutcome,
    ImportSummary,
    Progress,
    import_file,
    import_paths,
)
from cyclerctl.readers.registry import READERS, reader_for

__all__ = [
    "READERS",
    "RECORD_DTYPE",
    "ImportOutcome",
    "ImportSummary",
    "ImportedRun",
    "MissingExtra",
    "Progress",
    "ReadError",
    "Reader",
    "RunMetadata",
    "import_file",
    "import_paths",
    "outcome_json",
    "reader_for",
    "render_progress",
    "render_summary",
    "run_import",
]
