"""The one interface every reader of a foreign cycler file implements.

A reader turns a file into one or more :class:`ImportedRun` — the metadata the file holds
and its records as chunks of :data:`RECORD_DTYPE` (SI units: t s, V V, I A signed
charge-positive, Q C and E J passed *within the step*, signed; T K, NaN when unknown) —
carrying the file's own structure: its step counter (a new executed step wherever it
changes), its step index (the step's number in the tester's program), its cycle index and
its step type (a code into :attr:`ImportedRun.step_types`, the vendor's own names).

Readers never touch the store: :mod:`cyclerctl.readers.into_store` does that. A reader that
needs an optional library raises :class:`MissingExtra`, whose message names the extra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "RECORD_DTYPE",
    "ImportedRun",
    "MissingExtra",
    "ReadError",
    "Reader",
    "RunMetadata",
    "count_changes",
    "records",
]

#: One record as a reader hands it over (SI). ``step_count`` is the file's executed-step
#: counter (any value; a change starts a new step), ``step_index`` the step's number in
#: the tester's program, ``cycle`` the file's cycle index, ``step_type`` a code into
#: ImportedRun.step_types. ``Q``/``E``: charge/energy passed since the step began, signed
#: (charge positive); ``E`` is NaN when the file keeps no energy. An impedance point has a
#: finite ``f`` (Hz) with ``Zre``/``Zim`` (Ω, Zim as measured: negative for a capacitive
#: arc) and V its DC potential; every other record has ``f`` NaN.
RECORD_DTYPE = np.dtype(
    [
        ("t", "f8"),
        ("V", "f8"),
        ("I", "f8"),
        ("Q", "f8"),
        ("E", "f8"),
        ("T", "f8"),
        ("step_count", "i8"),
        ("step_index", "i8"),
        ("cycle", "i8"),
        ("step_type", "i8"),
        ("f", "f8"),
        ("Zre", "f8"),
        ("Zim", "f8"),
    ]
)

#: Rows per chunk a reader yields (bounded memory downstream).
CHUNK_ROWS = 100_000


class ReadError(ValueError):
    """A file that cannot be imported: ``str()`` names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MissingExtra(ReadError):
    """The reader's optional library is not installed (one line naming the extra)."""

    def __init__(self, path: Path | str, library: str, extra: str = "import") -> None:
        super().__init__(
            path, f"reading this file needs {library}: pip install 'cyclerctl[{extra}]'"
        )


@dataclass(frozen=True)
class RunMetadata:
    """What the file says about the run (empty string / None where it says nothing)."""

    vendor: str
    format_version: str = ""
    tester_channel: str = ""  # the tester's own channel identity (device-unit-channel…)
    test_id: str = ""  # the tester's own test identity (test id, test name)
    start_time: datetime | None = None  # aware when the file says its zone, else naive
    active_mass_kg: float | None = None
    area_m2: float | None = None
    procedure: str = ""  # the name of the tester's program (schedule, procedure, step file)
    procedure_text: str = ""  # the program as the file holds it, when it does
    instrument: Mapping[str, str] = field(default_factory=dict)  # model, serial, firmware
    warnings: tuple[str, ...] = ()  # what was readable only in part, said so
    analysis: Mapping[str, Any] | None = None  # the analysis to run (None: cycling)
    extra: Mapping[str, Any] = field(default_factory=dict)  # anything else (JSON-able)


@dataclass
class ImportedRun:
    """One run in a file: its metadata, its step-type names and its records in chunks.

    ``chunks()`` may be called once; it yields RECORD_DTYPE arrays in file order.
    ``records`` is the count when the reader knows it up front (for progress), else None.
    """

    metadata: RunMetadata
    step_types: Sequence[str]  # may grow while chunks() runs (names met in the file)
    chunks: Callable[[], Iterator[NDArray[np.void]]]
    records: int | None = None
    reader: str = ""  # the library (and version) or our module that read it


class Reader(Protocol):
    """A vendor's reader: which files it takes, and how it reads them."""

    #: vendor name as stored (``neware``, ``arbin``, …)
    vendor: str
    #: lower-case suffixes it claims, longest first (``.nda.zip`` before ``.zip``)
    suffixes: tuple[str, ...]

    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether the file (its first bytes ``head``) is one this reader takes."""
        ...

    def read(self, path: Path) -> Iterator[ImportedRun]:
        """The runs in the file. Raises ReadError (or MissingExtra) naming what is wrong."""
        ...


def records(n: int) -> NDArray[np.void]:
    """An empty record block of ``n`` rows: T, E and f (no impedance) NaN, step_type 0."""
    block = np.zeros(n, dtype=RECORD_DTYPE)
    for name in ("T", "E", "f", "Zre", "Zim"):
        block[name] = np.nan
    return block


def count_changes(*columns: NDArray[Any]) -> NDArray[np.int64]:
    """1 + the number of changes in any of ``columns`` up to each row (a step counter)."""
    n = len(columns[0])
    change = np.zeros(n, dtype=bool)
    for column in columns:
        change[1:] |= column[1:] != column[:-1]
    return np.cumsum(change, dtype=np.int64) + 1
