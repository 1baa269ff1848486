"""Import cycler files and folders into the Store: one completed run per run in a file.

``import_paths(store, paths, cell, …)`` is what ``cyclerctl import`` runs. Each file is
read by the reader the registry picks and written by :meth:`Store.import_run` in one
transaction, chunk by chunk, so a bad or interrupted file leaves no partial run and memory
stays bounded. A file whose bytes (sha256) were imported before is a no-op that names the
existing run(s), unless ``force``. A folder is walked recursively; files no reader takes
are skipped; a file that fails is reported and the walk goes on.

Steps and cycles come from the file's own structure: a step is a stretch of records with
one value of the file's step counter; its number in the tester's program (``plan_index``),
its type (the vendor's name, in the step's ``name``; a lab kind: cc, cv, cccv, rest, other)
and its cycle are the file's. Per step, charge_Ah/discharge_Ah are the largest charge and
discharge the file's own within-step capacity reaches (the vendors' per-step capacity).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from cyclerctl.plan import CellSummary, Plan, RecordCriteria
from cyclerctl.readers.base import ImportedRun, Reader, ReadError
from cyclerctl.readers.registry import claims, reader_for
from cyclerctl.store import (
    IMPEDANCE_ROW_DTYPE,
    SAMPLE_ROW_DTYPE,
    EventRecord,
    StepRecord,
    Store,
)

__all__ = [
    "ImportOutcome",
    "ImportSummary",
    "Progress",
    "import_file",
    "import_paths",
    "step_kind",
]

AH_PER_C = 1.0 / 3600.0


@dataclass
class ImportOutcome:
    """What became of one file: ``status`` is imported, already (there) or failed."""

    path: Path
    status: str
    run_ids: list[int] = field(default_factory=list)
    records: int = 0
    cycles: int = 0
    vendor: str = ""
    reason: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["path"] = str(self.path)
        return values


@dataclass
class ImportSummary:
    outcomes: list[ImportOutcome] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # in folders, taken by no reader
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def records(self) -> int:
        return sum(o.records for o in self.outcomes if o.status == "imported")

    @property
    def exit_code(self) -> int:
        """0 when every file was imported or already there, 1 when any failed."""
        return 1 if self.count("failed") else 0


@dataclass(frozen=True)
class Progress:
    """Where a folder import is: files done of total, records so far, the file now."""

    files_done: int
    files_total: int
    records: int
    elapsed_s: float
    current: str = ""

    @property
    def rate(self) -> float:
        """Records per second so far."""
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0


# -- files -----------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(files to import, skipped files): folders walked recursively in name order; in a
    folder only files some reader takes; a file named outright is always tried."""
    files: list[Path] = []
    skipped: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                (files if claims(found) is not None else skipped).append(found)
        else:
            files.append(path)
    return files, skipped


def step_kind(step_type: str) -> str:
    """The lab's kind of a vendor step type (Neware CCCV_Chg → cccv, Rest → rest…)."""
    name = step_type.lower().replace(" ", "_")
    if any(w in name for w in ("rest", "ocv", "pause", "open")):
        return "rest"
    if any(w in name for w in ("cccv", "cpcv", "crcv")):
        return "cccv"
    if name.startswith("cv") or "_cv" in name:
        return "cv"
    if any(w in name for w in ("cc", "chg", "charge", "discharge")):
        return "cc"
    return "other"


#: What is kept per executed step while records stream past (merged across chunks).
PIECE_DTYPE = np.dtype(
    [
        ("step", "i8"), ("plan_index", "i8"), ("type", "i8"), ("cycle", "i8"),
        ("t_start", "f8"), ("t_end", "f8"), ("first_seq", "i8"), ("last_seq", "i8"),
        ("q_max", "f8"), ("q_min", "f8"), ("e_max", "f8"), ("e_min", "f8"),
        ("de_pos", "f8"), ("de_neg", "f8"), ("q_last", "f8"), ("samples", "i8"),
    ]
)  # fmt: skip


class StepTable(Sequence[StepRecord]):
    """The executed steps of an import, column-wise (a 9 000-cycle file has ~36 000):
    a Sequence of StepRecords for anyone, and ``rows(columns)`` for the store's bulk insert
    without building a record per step."""

    def __init__(self, pieces: NDArray[np.void], step_types: Sequence[str]) -> None:
        self.pieces = pieces
        types = [str(t) for t in step_types]
        codes = pieces["type"]
        self.vendor_types = [types[c] if 0 <= c < len(types) else str(c) for c in codes.tolist()]
        kind_of = {t: step_kind(t) for t in set(self.vendor_types)}
        no_samples = pieces["samples"] == 0  # impedance points only
        self.kinds = [
            "eis" if only_eis else kind_of[t]
            for t, only_eis in zip(self.vendor_types, no_samples.tolist(), strict=True)
        ]
        first_seq: list[int | None] = pieces["first_seq"].tolist()
        last_seq: list[int | None] = pieces["last_seq"].tolist()
        if no_samples.any():
            for i in np.flatnonzero(no_samples).tolist():
                first_seq[i] = last_seq[i] = None
        has_e = np.isfinite(pieces["e_max"]) & np.isfinite(pieces["e_min"])
        self.columns: dict[str, list[Any]] = {
            "step": pieces["step"].tolist(),
            "plan_index": pieces["plan_index"].tolist(),
            "name": [f"{t} (step {i})" for t, i in
                     zip(self.vendor_types, pieces["plan_index"].tolist(), strict=True)],
            "kind": self.kinds,
            "cycle": pieces["cycle"].tolist(),
            "loop_counters": [f"[{c}]" for c in pieces["cycle"].tolist()],
            "t_start": pieces["t_start"].tolist(),
            "t_end": pieces["t_end"].tolist(),
            "end_reason": ["imported"] * len(pieces),
            "charge_Ah": (np.maximum(pieces["q_max"], 0.0) * AH_PER_C).tolist(),
            "discharge_Ah": (np.maximum(-pieces["q_min"], 0.0) * AH_PER_C).tolist(),
            "charge_Wh": (np.where(has_e, np.maximum(pieces["e_max"], 0.0), pieces["de_pos"])
                          * AH_PER_C).tolist(),
            "discharge_Wh": (np.where(has_e, np.maximum(-pieces["e_min"], 0.0),
                                      pieces["de_neg"]) * AH_PER_C).tolist(),
            "first_seq": first_seq,
            "last_seq": last_seq,
        }  # fmt: skip

    def __len__(self) -> int:
        return len(self.pieces)

    def _record(self, i: int) -> StepRecord:
        c = self.columns
        values = {k: v[i] for k, v in c.items() if k != "loop_counters"}
        return StepRecord(**values, loop_counters=(c["cycle"][i],))

    @overload
    def __getitem__(self, index: int) -> StepRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[StepRecord]: ...
    def __getitem__(self, index: int | slice) -> StepRecord | list[StepRecord]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self)))]
        return self._record(range(len(self))[index])

    def rows(self, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """One tuple per step of ``columns`` (steps-table names; loop_counters as JSON)."""
        return list(zip(*(self.columns[c] for c in columns), strict=True))


class _Steps:
    """Builds the step table while records stream past, chunk by chunk (vectorised: one
    reduction per chunk, one merge where a step runs on across a chunk boundary)."""

    def __init__(self, step_types: Sequence[str]) -> None:
        self.step_types = step_types
        self.parts: list[NDArray[np.void]] = []
        self.last_count: int | None = None
        self.ordinal = 0
        self.seq = 0  # samples so far
        self.impedance = 0  # impedance points so far
        self.rows = 0  # records so far, both kinds
        self.cycles: set[int] = set()

    def feed(self, block: NDArray[np.void]) -> tuple[NDArray[np.void], NDArray[np.void]]:
        """The block as (SAMPLE_ROW_DTYPE rows, IMPEDANCE_ROW_DTYPE rows); its steps are
        added to the table."""
        n = len(block)
        counts = block["step_count"]
        new = np.empty(n, dtype=bool)
        new[1:] = counts[1:] != counts[:-1]
        new[0] = self.last_count is None or counts[0] != self.last_count
        ordinal = self.ordinal + np.cumsum(new, dtype=np.int64)
        eis = np.isfinite(block["f"])
        is_sample = ~eis
        seq_of_row = self.seq + np.cumsum(is_sample, dtype=np.int64)  # sample seq so far
        kept = block if not eis.any() else block[is_sample]
        rows = np.empty(len(kept), dtype=SAMPLE_ROW_DTYPE)
        rows["seq"] = np.arange(self.seq + 1, self.seq + len(kept) + 1)
        for name in ("t", "V", "I", "Q", "T"):
            rows[name] = kept[name]
        rows["step"] = ordinal if len(kept) == n else ordinal[is_sample]
        rows["cycle"] = kept["cycle"]
        points = block[eis]
        imp = np.empty(len(points), dtype=IMPEDANCE_ROW_DTYPE)
        if len(points):
            imp["seq"] = np.arange(self.impedance + 1, self.impedance + len(points) + 1)
            imp["step"] = ordinal[eis]
            for name in ("f", "Zre", "Zim", "T", "t"):
                imp[name] = points[name]
            imp["V_dc"] = points["V"]
            self.impedance += len(points)
        self.cycles.update(np.unique(block["cycle"]).tolist())

        starts = np.flatnonzero(np.concatenate(([True], ordinal[1:] != ordinal[:-1])))
        ends = np.append(starts[1:], n) - 1
        q, e = block["Q"], block["E"]
        dq = np.diff(q, prepend=0.0)
        dq[starts] = q[starts]  # Q restarts with each step: its first point's Q is all so far
        carried = bool(self.parts) and not new[0]
        if carried:
            dq[0] = q[0] - float(self.parts[-1]["q_last"][-1])
        de = block["V"] * dq
        e_ok = np.isfinite(e)
        piece = np.empty(len(starts), dtype=PIECE_DTYPE)
        piece["step"] = ordinal[starts]
        piece["plan_index"] = block["step_index"][starts]
        piece["type"] = block["step_type"][starts]
        piece["cycle"] = block["cycle"][starts]
        piece["t_start"] = block["t"][starts]
        piece["t_end"] = block["t"][ends]
        piece["first_seq"] = seq_of_row[starts] - is_sample[starts] + 1
        piece["last_seq"] = seq_of_row[ends]
        piece["samples"] = np.add.reduceat(is_sample.astype(np.int64), starts)
        piece["q_max"] = np.maximum.reduceat(q, starts)
        piece["q_min"] = np.minimum.reduceat(q, starts)
        piece["e_max"] = np.maximum.reduceat(np.where(e_ok, e, -np.inf), starts)
        piece["e_min"] = np.minimum.reduceat(np.where(e_ok, e, np.inf), starts)
        piece["de_pos"] = np.add.reduceat(np.where(de > 0, de, 0.0), starts)
        piece["de_neg"] = np.add.reduceat(np.where(de < 0, -de, 0.0), starts)
        piece["q_last"] = q[ends]
        if carried:  # the first piece continues the step the last chunk ended in
            last, first = self.parts[-1][-1:], piece[0]
            for key in ("q_max", "e_max"):
                last[key] = max(float(last[key][0]), float(first[key]))
            for key in ("q_min", "e_min"):
                last[key] = min(float(last[key][0]), float(first[key]))
            for key in ("de_pos", "de_neg", "samples"):
                last[key] += first[key]
            for key in ("t_end", "last_seq", "q_last"):
                last[key] = first[key]
            piece = piece[1:]
        if len(piece):
            self.parts.append(piece)
        self.last_count = int(counts[-1])
        self.ordinal = int(ordinal[-1])
        self.seq += len(rows)
        self.rows += n
        return rows, imp

    def finish(self) -> StepTable:
        pieces = np.concatenate(self.parts) if self.parts else np.empty(0, PIECE_DTYPE)
        return StepTable(pieces, self.step_types)


def _cell_for(run: ImportedRun, path: Path, cell: CellSummary | None) -> CellSummary:
    """The file's mass/area where it holds them; ``cell`` (the --cell) supplies the rest."""
    meta = run.metadata
    if cell is None:
        cell = CellSummary(
            name=meta.test_id or path.stem,
            chemistry="",
            area_m2=0.0,
            nominal_capacity_Ah=None,
            source=f"import:{path.name}",
        )
    changes: dict[str, Any] = {}
    if meta.active_mass_kg is not None:
        changes["active_mass_kg"] = meta.active_mass_kg
    if meta.area_m2 is not None:
        changes["area_m2"] = meta.area_m2
    return dataclasses.replace(cell, **changes) if changes else cell


def _write_run(
    store: Store,
    run: ImportedRun,
    path: Path,
    sha256: str,
    size: int,
    index: int,
    cell: CellSummary | None,
    operator: str,
    on_records: Callable[[int], None] | None,
) -> tuple[int, int, int]:
    """One run of a file into the store, atomically: (run id, records, cycles)."""
    meta = run.metadata
    steps = _Steps(run.step_types)
    plan = Plan(
        protocol_name=f"import:{meta.vendor}",
        description=f"imported from {meta.vendor} file {path.name}",
        protocol_text=meta.procedure_text or f"{meta.vendor} file {path.name} ({meta.procedure})",
        protocol_sha256=sha256,
        protocol_source=str(path),
        parameters={},
        cell=_cell_for(run, path, cell),
        cell_text="",
        safety=(),
        record=RecordCriteria(),
        body=(),
        steps=(),
        analysis={"kind": "cycling"} if meta.analysis is None else dict(meta.analysis),
    )
    instrument = {**dict(meta.instrument), "source": path.name}
    channel = f"import:{meta.vendor}:{meta.tester_channel or path.name}"

    def blocks() -> Iterator[tuple[NDArray[np.void], NDArray[np.void]]]:
        try:
            for block in run.chunks():
                if len(block):
                    yield steps.feed(block)
                    if on_records is not None:
                        on_records(len(block))
        except ReadError:
            raise
        except Exception as exc:  # a damaged record half way: the whole file fails
            raise ReadError(path, f"unreadable record ({type(exc).__name__}: {exc})") from exc
        if steps.rows == 0:
            raise ReadError(path, "the file holds no records")

    def events() -> list[EventRecord]:
        return [EventRecord(kind="import", severity="warning", message=w) for w in meta.warnings]

    started = meta.start_time
    source = {
        "file_name": path.name,
        "file_path": str(path.resolve()),
        "file_size": size,
        "sha256": sha256,
        "vendor": meta.vendor,
        "format_version": meta.format_version,
        "tester_channel": meta.tester_channel,
        "test_id": meta.test_id,
        "file_started_at": None if started is None else started.isoformat(),
        "active_mass_kg": meta.active_mass_kg,
        "area_m2": meta.area_m2,
        "reader": run.reader,
        "details": {
            "run_in_file": index,
            "procedure": meta.procedure,
            "warnings": list(meta.warnings),
            **{k: v for k, v in meta.extra.items()},
        },
    }

    info = store.import_run(
        plan,
        operator=operator,
        instrument=instrument,
        channel=channel,
        source=lambda: {**source, "records": steps.rows},
        blocks=blocks(),
        steps=steps.finish,
        events=events,
        started_at=started if started is not None and started.tzinfo is not None else None,
    )
    return info.id, steps.rows, len(steps.cycles)


def import_file(
    store: Store,
    path: str | Path,
    cell: CellSummary | None = None,
    *,
    force: bool = False,
    operator: str = "",
    reader: Reader | None = None,
    analyse: bool = True,
    on_records: Callable[[int], None] | None = None,
) -> ImportOutcome:
    """Import one file; never raises for a bad file (status "failed" with the reason)."""
    path = Path(path)
    started = time.perf_counter()
    outcome = ImportOutcome(path=path, status="failed")
    try:
        if not path.is_file():
            raise ReadError(path, "no such file")
        reader = reader or reader_for(path)
        outcome.vendor = reader.vendor
        size = path.stat().st_size
        if size == 0:
            raise ReadError(path, "the file is empty (0 bytes)")
        sha256 = sha256_of(path)
        existing = store.runs_from_file(sha256)
        if existing and not force:
            outcome.status = "already"
            outcome.run_ids = existing
            outcome.reason = f"already imported as run {', '.join(map(str, existing))}"
            return outcome
        for index, run in enumerate(reader.read(path)):
            run_id, count, cycles = _write_run(
                store, run, path, sha256, size, index, cell, operator, on_records
            )
            outcome.run_ids.append(run_id)
            outcome.records += count
            outcome.cycles += cycles
            outcome.warnings += list(run.metadata.warnings)
        if not outcome.run_ids:
            raise ReadError(path, "the file holds no runs")
        outcome.status = "imported"
    except ReadError as exc:
        outcome.reason = exc.reason
    finally:
        outcome.seconds = time.perf_counter() - started
    if analyse and outcome.status == "imported":
        from cyclerctl.reanalysis import reanalyse

        for run_id in outcome.run_ids:
            with contextlib.suppress(ValueError, ArithmeticError):  # data may not suit it
                reanalyse(store, run_id)
    return outcome


def import_paths(
    store: Store,
    paths: Iterable[str | Path],
    cell: CellSummary | None = None,
    *,
    force: bool = False,
    operator: str = "",
    on_progress: Callable[[Progress], None] | None = None,
    on_file: Callable[[ImportOutcome], None] | None = None,
    analyse: bool = True,
) -> ImportSummary:
    """Import files and folders (recursively); goes on past a bad file. ``on_progress``
    is called as records are written and after each file; ``on_file`` after each file
    (for ``--json``: one line per file)."""
    files, skipped = expand(paths)
    summary = ImportSummary(skipped=skipped)
    t0 = time.perf_counter()
    done = 0
    written = 0

    def report(current: str) -> None:
        if on_progress is not None:
            on_progress(Progress(done, len(files), written, time.perf_counter() - t0, current))

    for path in files:
        before = written

        def on_records(n: int, name: str = path.name) -> None:
            nonlocal written
            written += n
            report(name)

        report(path.name)
        try:
            outcome = import_file(
                store,
                path,
                cell,
                force=force,
                operator=operator,
                analyse=analyse,
                on_records=on_records,
            )
        except Exception as exc:  # a bug or a database error: still go on with the rest
            outcome = ImportOutcome(path, "failed", reason=f"{type(exc).__name__}: {exc}")
        if outcome.status != "imported":
            written = before  # a failed file's records were rolled back
        summary.outcomes.append(outcome)
        done += 1
        report("")
        if on_file is not None:
            on_file(outcome)
    summary.seconds = time.perf_counter() - t0
    return summary
