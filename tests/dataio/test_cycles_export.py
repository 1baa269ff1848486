"""`export --format cycles-csv|cycles-parquet` and the dQ/dV export, on a real EC-Lab run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.analysis.cycling import COLUMNS
from cyclerctl.ecimport import import_eclab
from cyclerctl.export import FORMATS, export_differential_capacity, export_run
from cyclerctl.protocol import load_cell
from cyclerctl.store import Store

ECLAB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eclab"
GCPL = ECLAB / "gcpl.issue_149.mpt"
PEIS = ECLAB / "peis.issue_149.mpt"
needs_eclab = pytest.mark.skipif(not GCPL.is_file(), reason=f"{GCPL} not found")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'runs.db'}")
    yield s
    s.close()


def test_cycle_formats_are_registered() -> None:
    assert {"cycles-csv", "cycles-parquet"} <= set(FORMATS)


@needs_eclab
@pytest.mark.parametrize("fmt", ["cycles-csv", "cycles-parquet"])
def test_cycles_export_is_the_stored_table(store: Store, tmp_path: Path, fmt: str) -> None:
    pd = pytest.importorskip("pandas")
    run = import_eclab(store, GCPL, load_cell("ss-qse-ss"), operator="t")
    path = export_run(store, run, fmt, tmp_path / f"cycles.{fmt.split('-')[1]}")
    df = pd.read_csv(path) if fmt == "cycles-csv" else pd.read_parquet(path)
    assert list(df.columns) == list(COLUMNS)
    rows = store.results(run)["cycles"].data
    assert df["cycle"].tolist() == [r["cycle"] for r in rows] == [1, 2, 3, 4]
    for name in ("charge_capacity_mAh", "discharge_capacity_mAh", "coulombic_efficiency"):
        np.testing.assert_allclose(df[name], [r[name] for r in rows], rtol=1e-15)
    assert df["charge_capacity_mAh_g"].isna().all()  # ss-qse-ss gives no active mass
    if fmt == "cycles-csv":
        meta = json.loads(path.with_name(path.name + ".json").read_text())
    else:
        import pyarrow.parquet as pq

        meta = json.loads(pq.read_schema(path).metadata[b"cyclerctl"])
    assert meta["working_electrode"] == "cathode" and meta["run_id"] == run
    assert meta["run_results"]["mean_ce"]["value"] == pytest.approx(0.9996, abs=1e-4)
    assert meta["units"]["discharge_energy_Wh_kg"] == "Wh/kg"


@needs_eclab
def test_a_run_without_cycles_says_so(store: Store, tmp_path: Path) -> None:
    run = import_eclab(store, PEIS, load_cell("ss-qse-ss"), operator="t")
    with pytest.raises(ValueError, match=f"run {run} has no per-cycle table"):
        export_run(store, run, "cycles-csv", tmp_path / "c.csv")


@needs_eclab
def test_differential_capacity_export(store: Store, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    run = import_eclab(store, GCPL, load_cell("ss-qse-ss"), operator="t")
    path = export_differential_capacity(store, run, [1, 4], tmp_path / "dqdv.csv")
    df = pd.read_csv(path)
    assert set(df["cycle"]) == {1, 4} and set(df["half"]) == {"charge", "discharge"}
    assert set(df["quantity"]) == {"dQ/dV", "dV/dQ"}
    meta = json.loads(path.with_name(path.name + ".json").read_text())
    assert "voltage binning" in meta["method"]
    # Σ dQ/dV ΔV of a half cycle is its galvanostatic capacity (mAh, no mass given)
    rows = store.results(run)["cycles"].data
    q = df[(df["cycle"] == 1) & (df["half"] == "charge") & (df["quantity"] == "dQ/dV")]
    width = 0.010  # the default bin (this file's half cycles span under 10 mV: one bin)
    assert "10 mV bins" in meta["method"]
    assert float(q["y"].sum()) * width == pytest.approx(rows[0]["charge_capacity_mAh"], rel=0.02)
