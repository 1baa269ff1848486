"""BDF (ours and others') and EC-Lab through the readers.

BDF, ours: a Neware run exported by ``cyclerctl export`` as BDF csv and parquet imports back
to the same points. Others': fastnda's own BDF output (its ``bdf-pref`` labels, written to
parquet here) imports to the same points as the .ndax itself. EC-Lab: the adapter keeps every
point, impedance point, cycle and step that ecimport.import_eclab gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cyclerctl.ecimport import import_eclab
from cyclerctl.export import export_run
from cyclerctl.plan import CellSummary
from cyclerctl.readers.bdf import BdfReader
from cyclerctl.readers.into_store import import_file
from cyclerctl.readers.registry import reader_for
from cyclerctl.store import Store
from tests.readers.conftest import shared

NDAX = "TESTCELL0001-B2-2025-M50T_NewareNDA_Investigation.ndax"
CELL = CellSummary("eclab-cell", "", 1e-4, None, active_mass_kg=1e-5)


def same_points(a: np.ndarray, b: np.ndarray, rtol: float = 1e-12) -> None:
    assert len(a) == len(b)
    for name in ("t", "V", "I", "Q"):
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=1e-12, err_msg=name)
    assert (a["cycle"] == b["cycle"]).all()
    assert ((np.diff(a["step"]) != 0) == (np.diff(b["step"]) != 0)).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_our_bdf_export_imports_back(store: Store, tmp_path: Path, fmt: str) -> None:
    first = import_file(store, shared("neware") / NDAX, analyse=False)
    (run_id,) = first.run_ids
    path = export_run(store, run_id, fmt, tmp_path / f"run.{fmt}")
    assert isinstance(reader_for(path), BdfReader)
    again = import_file(store, path, analyse=False)
    assert again.status == "imported", again.reason
    same_points(store.samples(run_id), store.samples(again.run_ids[0]))
    row = store.imported_file(again.run_ids[0])
    assert row is not None and row["format_version"] == "BDF (cyclerctl export)"
    before = {s.step: s for s in store.steps(run_id)}
    for s in store.steps(again.run_ids[0]):
        assert s.charge_Ah == pytest.approx(before[s.step].charge_Ah, abs=1e-12)
        assert s.discharge_Ah == pytest.approx(before[s.step].discharge_Ah, abs=1e-12)


def test_fastnda_bdf_output_imports_like_the_ndax(store: Store, tmp_path: Path) -> None:
    import fastnda

    ndax = shared("neware") / NDAX
    others = tmp_path / "others.parquet"
    fastnda.read(ndax, cycle_mode="raw", columns="bdf-pref").write_parquet(others)
    direct = import_file(store, ndax, analyse=False)
    via_bdf = import_file(store, others, analyse=False)
    assert via_bdf.status == "imported", via_bdf.reason
    a, b = store.samples(direct.run_ids[0]), store.samples(via_bdf.run_ids[0])
    same_points(a, b, rtol=2.4e-7)  # fastnda scales mA → A in float32: 2 ulps
    steps = {s.step: s for s in store.steps(via_bdf.run_ids[0])}
    assert {s.name.split(" (")[0] for s in steps.values()} == {"Rest", "CC_DChg", "CCCV_Chg"}


def test_a_csv_that_is_not_bdf_is_refused_by_name(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("when,what\n1,2\n")
    outcome = import_file(store, path)
    assert outcome.status == "failed"
    assert "no reader takes this file" in outcome.reason


@pytest.mark.parametrize(
    "name", ["gcpl.issue_149.mpt", "mb.issue_149.mpt", "peis.issue_149.mpt", "cv.mpt"]
)
def test_eclab_adapter_imports_what_import_eclab_does(store: Store, name: str) -> None:
    """The same file through ecimport.import_eclab and through the readers: same points,
    impedance points, cycles, steps and step charges."""
    path = shared("eclab") / name
    theirs = import_eclab(store, path, CELL, operator="x")
    outcome = import_file(store, path, CELL)
    assert outcome.status == "imported", outcome.reason
    (ours,) = outcome.run_ids
    a, b = store.samples(theirs), store.samples(ours)
    assert len(a) == len(b)
    for field in ("t", "V", "I", "Q", "cycle", "step"):
        np.testing.assert_array_equal(a[field], b[field], err_msg=field)
    za, zb = store.impedance(theirs), store.impedance(ours)
    assert len(za) == len(zb)
    assert len(za) > 0 or "peis" not in name
    for field in ("f", "Zre", "Zim", "step", "t"):
        np.testing.assert_array_equal(za[field], zb[field], err_msg=field)
    sa, sb = store.steps(theirs), store.steps(ours)
    assert [(s.step, s.cycle, s.first_seq, s.last_seq) for s in sa] == [
        (s.step, s.cycle, s.first_seq, s.last_seq) for s in sb
    ]
    for x, y in zip(sa, sb, strict=True):
        assert (x.kind == "eis") == (y.kind == "eis")
        assert y.charge_Ah == pytest.approx(x.charge_Ah, abs=1e-12)
        assert y.discharge_Ah == pytest.approx(x.discharge_Ah, abs=1e-12)
    run_a, run_b = store.get_run(theirs), store.get_run(ours)
    assert run_a is not None and run_b is not None and run_a.analysis == run_b.analysis
    assert set(store.results(theirs)) == set(store.results(ours))
