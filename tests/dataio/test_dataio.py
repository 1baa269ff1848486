"""Export, import and report on real EC-Lab files and simulated runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.ecimport import import_eclab
from cyclerctl.export import export_run
from cyclerctl.export.mpt import read_mpt
from cyclerctl.protocol import load_cell
from cyclerctl.report import write_report
from cyclerctl.store import Store

ECLAB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eclab"
MPR = sorted(ECLAB.glob("*.mpr")) if ECLAB.is_dir() else []
needs_eclab = pytest.mark.skipif(not MPR, reason=f"real EC-Lab files not found at {ECLAB}")
#: The columns we carry, compared with EC-Lab's own export to its printed precision.
CARRIED = (
    "time/s", "Ewe/V", "<Ewe>/V", "<I>/mA", "Q charge/discharge/mA.h", "cycle number",
    "freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg",
)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'runs.db'}")
    yield s
    s.close()


def _order(m: dict[str, np.ndarray]) -> np.ndarray:
    keys = [m[k] for k in ("freq/Hz",) if k in m] + [m["time/s"]]
    return np.lexsort(keys)


@needs_eclab
@pytest.mark.parametrize("mpr", MPR, ids=lambda p: p.stem)
def test_mpr_imports_and_mpt_export_matches_eclab(store: Store, tmp_path: Path, mpr: Path) -> None:
    rid = import_eclab(store, mpr, load_cell("ss-qse-ss"), operator="test")
    ours = read_mpt(export_run(store, rid, "mpt", tmp_path / "out.mpt"))
    ref = read_mpt(mpr.with_suffix(".mpt"))
    assert len(ours) == len(ref)
    a, b = _order(ours.columns), _order(ref.columns)
    for alias in ("<Ewe/V>", "<Ewe>/V"):  # EC-Lab names the averaged potential so in CP/EIS
        if alias in ref.columns and "Ewe/V" in ours.columns:
            ref.columns["Ewe/V"] = ref.columns[alias]
    compared = [c for c in CARRIED if c in ours.columns and c in ref.columns]
    if mpr.stem.startswith("mb."):  # known gap: Q within EIS segments of a Modulo Bat file
        compared.remove("Q charge/discharge/mA.h")
    assert {"time/s", "Ewe/V"} <= set(compared) or {"time/s", "freq/Hz"} <= set(compared)
    for col in compared:
        # EC-Lab prints singles with 8 and doubles with 16 significant digits
        np.testing.assert_allclose(
            ours.columns[col][a], ref.columns[col][b], rtol=2e-7, atol=1e-12, err_msg=col
        )


@needs_eclab
def test_peis_gives_bulk_resistance_and_gcpl_per_cycle_capacities(store: Store) -> None:
    peis = import_eclab(store, ECLAB / "peis.issue_149.mpr", load_cell("ss-qse-ss"), operator="t")
    r_b = store.results(peis)["bulk_resistance_ohm"].value
    assert r_b is not None and 10 < r_b < 1000
    gcpl = import_eclab(store, ECLAB / "gcpl.issue_149.mpr", load_cell("ss-qse-ss"), operator="t")
    results = store.results(gcpl)
    assert results["cycles_completed"].value == 4
    # the file's settings: ±30 µA for t1 = 10 s per half cycle (the rest after each
    # discharge carries EC-Lab's Q charge/discharge but passes no charge of its own)
    assert results["first_discharge_capacity_mAh"].value == pytest.approx(
        30e-3 * 10 / 3600, rel=0.01
    )


@needs_eclab
def test_exported_mpt_reads_back_with_galvani(store: Store, tmp_path: Path) -> None:
    galvani = pytest.importorskip("galvani.BioLogic")
    rid = import_eclab(store, ECLAB / "gcpl.issue_149.mpr", load_cell("ss-qse-ss"), operator="t")
    path = export_run(store, rid, "mpt", tmp_path / "g.mpt")
    head = path.read_bytes().split(b"\r\n")
    assert head[0] == b"EC-Lab ASCII FILE"
    assert head[1].startswith(b"Nb header lines : ")
    data, _comments = galvani.MPTfile(str(path), encoding="latin-1")
    samples = store.samples(rid)
    np.testing.assert_allclose(data["time/s"], samples["t"], rtol=1e-15)  # 16 digits
    np.testing.assert_allclose(data["Ewe/V"], samples["V"], rtol=1e-7)
    np.testing.assert_allclose(data["I/mA"], samples["I"] * 1e3, rtol=1e-14)


@needs_eclab
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bdf_export_reads_back_with_pandas(store: Store, tmp_path: Path, fmt: str) -> None:
    pd = pytest.importorskip("pandas")
    rid = import_eclab(store, ECLAB / "gcpl.issue_149.mpr", load_cell("ss-qse-ss"), operator="t")
    path = export_run(store, rid, fmt, tmp_path / f"run.bdf.{fmt}")
    df = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    samples = store.samples(rid)
    assert list(df.columns[:4]) == ["Test Time / s", "Unix Time / s", "Voltage / V", "Current / A"]
    np.testing.assert_array_equal(df["Test Time / s"], samples["t"])
    np.testing.assert_array_equal(df["Voltage / V"], samples["V"])
    np.testing.assert_array_equal(df["Current / A"], samples["I"])
    np.testing.assert_array_equal(df["Cycle Count / 1"], samples["cycle"])
    np.testing.assert_array_equal(df["Step Count / 1"], samples["step"])
    q = samples["Q"] / 3600
    np.testing.assert_allclose(df["Charging Capacity / Ah"], np.where(q > 0, q, 0), rtol=1e-15)
    if fmt == "csv":
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        assert meta["run"]["id"] == rid and meta["columns"]["Voltage / V"] == "V"


def _png_ok(path: Path) -> None:
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    tall = path.stem in ("nyquist", "kk")  # the multi-panel EIS figures
    assert img.shape[:2] == ((700, 800) if tall else (500, 800)), path
    assert float(np.var(img[..., :3])) > 1e-3, f"{path} looks blank"


@needs_eclab
@pytest.mark.parametrize(
    ("stem", "figures"),
    [
        ("gcpl.issue_149", {"vi", "capacity", "profiles", "dqdv"}),
        ("peis.issue_149", {"nyquist", "kk"}),
    ],
)
def test_report_on_imported_runs(
    store: Store, tmp_path: Path, stem: str, figures: set[str]
) -> None:
    rid = import_eclab(store, ECLAB / f"{stem}.mpr", load_cell("ss-qse-ss"), operator="t")
    index = write_report(store, rid, tmp_path / "rep")
    pngs = {p.stem: p for p in index.parent.glob("*.png")}
    assert figures <= set(pngs)
    for p in pngs.values():
        _png_ok(p)
        assert p.name in index.read_text()
