"""Maccor: each step's capacity equals the tester's Amp-hr column; cycles as in the file.

The vendor's side is pandas over the raw export: a step is a run of one (Cyc#, Step), its
capacity the largest Amp-hr in it (Maccor resets Amp-hr with each step).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cyclerctl.readers import maccor
from cyclerctl.readers.into_store import import_file
from cyclerctl.store import Store
from tests.readers.conftest import shared

FILES = {"xTESLADIAG_000038.078": 24, "xTESLADIAG_000019_CH70.070": 3}  # README's cycles


def vendor_steps(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep="\t", skiprows=1, usecols=["Cyc#", "Step", "Amp-hr", "State"])
    key = (raw["Cyc#"].diff().ne(0) | raw["Step"].diff().ne(0)).cumsum()
    return raw.groupby(key).agg(cycle=("Cyc#", "first"), amp_hr=("Amp-hr", "max"),
                                state=("State", "first"))  # fmt: skip


@pytest.mark.parametrize("name", sorted(FILES))
def test_step_capacity_equals_amp_hr(store: Store, name: str) -> None:
    path = shared("maccor") / name
    outcome = import_file(store, path, analyse=False)
    assert outcome.status == "imported", outcome.reason
    steps = store.steps(outcome.run_ids[0])
    expected = vendor_steps(path)
    assert len(steps) == len(expected)
    ours = np.array([s.charge_Ah + s.discharge_Ah for s in steps])
    assert np.abs(ours - expected["amp_hr"].to_numpy()).max() <= 1e-12
    charge_steps = expected["state"].to_numpy() == "C"
    assert all(s.discharge_Ah == 0 for s, c in zip(steps, charge_steps, strict=True) if c)
    cycles = np.unique(store.samples(outcome.run_ids[0])["cycle"])
    assert len(cycles) == FILES[name] == expected["cycle"].nunique()


def test_metadata_channel_from_the_extension(store: Store) -> None:
    outcome = import_file(store, shared("maccor") / "xTESLADIAG_000038.078", analyse=False)
    row = store.imported_file(outcome.run_ids[0])
    assert row is not None
    assert row["tester_channel"] == "78"
    assert row["file_started_at"] == "2019-08-13T19:17:53"
    assert row["details"]["procedure"] == "xTESLADIAG_000038.000"


def test_a_file_cut_in_half_leaves_no_run(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cut falls after several chunks were already written: all of them roll back."""
    data = (shared("maccor") / "xTESLADIAG_000038.078").read_bytes()
    cut = tmp_path / "cut.078"
    half = len(data) // 2
    cut.write_bytes(data[: data.index(b"\t", half)])  # mid-record
    monkeypatch.setattr(maccor, "BLOCK_BYTES", 64 << 10)  # many chunks before the cut
    outcome = import_file(store, cut, analyse=False)
    assert outcome.status == "failed"
    assert "cut.078" in str(outcome.path) and "unreadable record" in outcome.reason
    assert store.count("runs") == store.count("samples") == store.count("imported_files") == 0
