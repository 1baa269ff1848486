"""Importing files and folders: provenance, no-op re-import, bad files, progress, summary."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from cyclerctl.plan import CellSummary
from cyclerctl.readers import MissingExtra
from cyclerctl.readers.console import outcome_json, render_progress, render_summary
from cyclerctl.readers.into_store import Progress, import_file, import_paths, step_kind
from cyclerctl.readers.neware import NewareReader
from cyclerctl.store import Store
from tests.readers.conftest import shared

SMALL_NDAX = "TESTCELL0001-Test_Data_Collection_Ndc17.ndax"


def nothing_written(store: Store) -> bool:
    return all(store.count(t) == 0 for t in ("runs", "samples", "steps", "imported_files"))


def test_provenance_is_kept_and_a_second_import_names_the_run(store: Store) -> None:
    path = shared("neware") / SMALL_NDAX
    cell = CellSummary("coin-7", "NMC622", 1.54e-4, 0.004, active_mass_kg=2e-5)
    first = import_file(store, path, cell, operator="ana")
    assert first.status == "imported" and first.records == 80
    (run_id,) = first.run_ids
    row = store.imported_file(run_id)
    assert row is not None
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert row["file_size"] == path.stat().st_size and row["file_name"] == SMALL_NDAX
    assert row["records"] == 80 and row["vendor"] == "neware"
    run = store.get_run(run_id)
    assert run is not None and run.status == "completed" and run.end_reason == "imported"
    assert run.operator == "ana" and run.cell_name == "coin-7"
    assert store.run_snapshot(run_id)["cell"]["area_m2"] == 1.54e-4  # type: ignore[index]
    assert [r.id for r in store.list_runs(source="import")] == [run_id]

    again = import_file(store, path, cell)
    assert again.status == "already" and again.run_ids == [run_id]
    assert f"run {run_id}" in again.reason
    assert store.count("runs") == 1
    forced = import_file(store, path, cell, force=True)
    assert forced.status == "imported" and forced.run_ids != [run_id]
    assert store.runs_from_file(row["sha256"]) == [run_id, *forced.run_ids]


def test_empty_and_truncated_files_fail_by_name_and_leave_nothing(
    store: Store, tmp_path: Path
) -> None:
    empty = import_file(store, shared("neware") / "empty.ndax")
    assert empty.status == "failed" and empty.reason == "the file holds no records"
    data = (shared("neware") / "test_2.ndax").read_bytes()
    cut = tmp_path / "half.ndax"
    cut.write_bytes(data[: len(data) // 2])
    half = import_file(store, cut)
    assert half.status == "failed" and "not a readable Neware file" in half.reason
    zero = tmp_path / "zero.ndax"
    zero.write_bytes(b"")
    assert "empty" in import_file(store, zero).reason
    assert nothing_written(store)


def test_an_import_that_fails_after_writing_chunks_rolls_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted half way through a real file (the writer already holds rows): nothing
    stays."""
    from cyclerctl.readers import base, neware

    monkeypatch.setattr(neware, "CHUNK_ROWS", 10_000)
    seen = 0

    def feed_then_fail(self: Any, block: Any) -> Any:
        nonlocal seen
        seen += 1
        if seen == 5:
            raise OSError("disk went away")
        return original(self, block)

    from cyclerctl.readers import into_store

    original = into_store._Steps.feed
    monkeypatch.setattr(into_store._Steps, "feed", feed_then_fail)
    outcome = import_file(store, shared("neware") / "test_2.ndax", analyse=False)
    assert outcome.status == "failed" and "disk went away" in outcome.reason
    assert seen == 5 and nothing_written(store)
    assert base.CHUNK_ROWS == 100_000


def test_a_folder_walk_goes_on_past_bad_files(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "lab" / "2023"
    folder.mkdir(parents=True)
    for name in (SMALL_NDAX, "empty.ndax", "46_1_5_60_bts16.ndax"):
        shutil.copy(shared("neware") / name, folder / name)
    shutil.copy(shared("maccor") / "xTESLADIAG_000019_CH70.070", folder / "cell.070")
    (folder / "README.txt").write_text("not data")
    progress: list[Progress] = []
    lines: list[str] = []
    summary = import_paths(
        store,
        [tmp_path / "lab"],
        operator="ana",
        on_progress=progress.append,
        on_file=lambda o: lines.append(outcome_json(o)),
    )
    assert [o.path.name for o in summary.outcomes] == sorted(
        ["cell.070", SMALL_NDAX, "empty.ndax", "46_1_5_60_bts16.ndax"]
    )
    assert summary.count("imported") == 3 and summary.count("failed") == 1
    assert summary.skipped == [folder / "README.txt"]
    assert summary.exit_code == 1
    assert progress[-1].files_done == 4 and progress[-1].records == summary.records
    assert summary.records == 80 + 84 + 11_669
    records = [p.records for p in progress]
    assert records == sorted(records)
    parsed = [json.loads(line) for line in lines]
    assert {p["status"] for p in parsed} == {"imported", "failed"}
    table = render_summary(summary)
    assert "3 imported, 0 already there, 1 failed, 1 skipped" in table
    assert "the file holds no records" in table
    assert "files" in render_progress(progress[-1]) and "rec/s" in render_progress(progress[-1])

    again = import_paths(store, [tmp_path / "lab"])
    assert again.count("already") == 3 and again.count("failed") == 1
    good = import_paths(store, [folder / SMALL_NDAX])
    assert good.exit_code == 0 and good.count("already") == 1


def test_a_missing_extra_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fastnda", None)  # as if not installed
    with pytest.raises(MissingExtra) as caught:
        list(NewareReader().read(tmp_path / "x.ndax"))
    message = str(caught.value)
    assert "\n" not in message and "pip install 'cyclerctl[import]'" in message


def test_imported_runs_analyse_like_any_run(store: Store) -> None:
    outcome = import_file(store, shared("maccor") / "xTESLADIAG_000019_CH70.070")
    assert outcome.status == "imported"
    assert store.results(outcome.run_ids[0])  # the cycling analysis ran on it


@pytest.mark.parametrize(
    ("vendor_type", "kind"),
    [("CCCV_Chg", "cccv"), ("CC_DChg", "cc"), ("Rest", "rest"), ("CV_Chg", "cv"),
     ("Charge", "cc"), ("Discharge", "cc"), ("Pulse", "other")],
)  # fmt: skip
def test_step_kinds(vendor_type: str, kind: str) -> None:
    assert step_kind(vendor_type) == kind


def test_chunk_boundaries_inside_steps_change_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps that run on across chunks are merged: 997-record chunks give the same steps
    and points as one chunk."""
    from cyclerctl.readers import neware

    path = shared("neware") / "TESTCELL0001-B2-2025-M50T_NewareNDA_Investigation.ndax"
    whole = import_file(store, path, analyse=False)
    monkeypatch.setattr(neware, "CHUNK_ROWS", 997)
    pieces = import_file(store, path, force=True, analyse=False)
    a, b = store.steps(whole.run_ids[0]), store.steps(pieces.run_ids[0])
    assert len(a) == len(b) > 20
    assert a == b
    assert (store.samples(whole.run_ids[0]) == store.samples(pieces.run_ids[0])).all()
