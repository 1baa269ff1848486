"""Per-cycle capacities of real EC-Lab GCPL files equal EC-Lab's own numbers.

The oracle is computed here from EC-Lab's columns with a few lines of its own, not through
the importer: at the last point of each ``half cycle``, ``Q charge/mA.h`` and ``Q
discharge/mA.h`` where the file has them (else the sign of ``Q charge/discharge/mA.h``) are
that half cycle's charge and discharge; they add up per ``cycle number`` (where a .mpr
lacks it, ``half cycle // 2``: EC-Lab gives a cycle's opening half cycle an even number).

Run with ``-s`` to see the table for the closing note (file, cycles, mean CE ours and
EC-Lab's, largest per-cycle deviation).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclerctl.ecimport import import_eclab, read_eclab
from cyclerctl.ecimport.halfcycles import cycle_index, half_cycles, parse_cycle_definition
from cyclerctl.protocol import load_cell
from cyclerctl.store import Store

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FOLDERS = (DATA / "eclab", DATA / "biologic-gcpl")
FILES = sorted(
    p for folder in FOLDERS if folder.is_dir() for p in folder.iterdir()
    if p.suffix in (".mpt", ".mpr")
)  # fmt: skip
needs_data = pytest.mark.skipif(not FILES, reason=f"real EC-Lab files not found under {DATA}")
TOLERANCE = 1e-3  # 0.1 %


def _columns(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    if path.suffix == ".mpr":
        galvani = pytest.importorskip("galvani.BioLogic")
        data = galvani.MPRfile(str(path)).data
        return {n: np.asarray(data[n], dtype=float) for n in data.dtype.names if n != "flags"}
    from cyclerctl.export.mpt import read_mpt

    return dict(read_mpt(path).columns)


def eclab_cycles(c: dict[str, np.ndarray[Any, Any]]) -> dict[int, tuple[float, float]]:
    """EC-Lab's own (charge, discharge) in mAh per cycle number, complete cycles only."""
    half = c["half cycle"].astype(int)
    ends = np.flatnonzero(np.append(half[1:] != half[:-1], True))
    cycles = c.get("cycle number")
    sums: dict[int, list[float]] = {}
    for e in ends:
        if "Q charge/mA.h" in c and "Q discharge/mA.h" in c:
            q_in, q_out = c["Q charge/mA.h"][e], c["Q discharge/mA.h"][e]
        else:
            q = c["Q charge/discharge/mA.h"][e]
            q_in, q_out = max(q, 0.0), max(-q, 0.0)
        n = int(cycles[e]) if cycles is not None else int(half[e]) // 2
        acc = sums.setdefault(n, [0.0, 0.0])
        acc[0] += q_in
        acc[1] += q_out
    return {n: (a, b) for n, (a, b) in sums.items() if a > 0 and b > 0}


def _gcpl_files() -> list[Path]:
    out = []
    for path in FILES:
        if path.suffix == ".mpr" and importlib.util.find_spec("galvani") is None:
            continue  # .mpr needs galvani (the test extra); the .mpt files still count
        if read_eclab(path).technique != "gcpl":
            continue
        if len(eclab_cycles(_columns(path))) >= 2:
            out.append(path)
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'runs.db'}")
    yield s
    s.close()


@needs_data
def test_every_multi_cycle_gcpl_file_matches_eclab(store: Store) -> None:
    files = _gcpl_files()
    # gcpl.issue_149 (.mpt and .mpr), jdb11-1 and jdb11-4: the four multi-cycle GCPL runs
    expected = 4 if importlib.util.find_spec("galvani") else 1
    assert len(files) >= expected, files
    lines = [f"{'file':58s} {'cycles':>6s} {'mean CE ours':>12s} {'EC-Lab':>8s} {'max dev':>9s}"]
    for path in files:
        oracle = eclab_cycles(_columns(path))
        run = import_eclab(store, path, load_cell("ss-qse-ss"), operator="test")
        results = store.results(run)
        rows = {r["cycle"]: r for r in results["cycles"].data}
        assert sorted(rows) == sorted(n + 1 for n in oracle), path.name  # EC-Lab counts from 0
        worst = 0.0
        for n, (q_in, q_out) in oracle.items():
            row = rows[n + 1]
            for ours, theirs in ((row["charge_capacity_mAh"], q_in),
                                 (row["discharge_capacity_mAh"], q_out)):  # fmt: skip
                dev = abs(ours / theirs - 1.0)
                worst = max(worst, dev)
                assert dev <= TOLERANCE, (path.name, n, ours, theirs)
        ce_eclab = float(np.mean([b / a for a, b in oracle.values()]))
        mean_ce = results["mean_ce"].value
        assert mean_ce is not None and 0.9 <= mean_ce <= 1.05, (path.name, mean_ce)
        assert mean_ce == pytest.approx(ce_eclab, abs=1e-3)
        lines.append(
            f"{path.parent.name + '/' + path.name:58s} {len(rows):6d} {mean_ce:12.4f} "
            f"{ce_eclab:8.4f} {worst:9.1e}"
        )
    print("\n" + "\n".join(lines))


@needs_data
def test_a_rest_after_a_discharge_adds_no_discharge(store: Store) -> None:
    """The bug of issue 15: EC-Lab's Q charge/discharge still reads the discharge in the
    rest after it; the imported rest step passes no charge."""
    path = DATA / "eclab" / "gcpl.issue_149.mpt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    run = import_eclab(store, path, load_cell("ss-qse-ss"), operator="test")
    rests = [s for s in store.steps(run) if s.kind == "rest"]
    assert len(rests) >= 4
    assert all(s.charge_Ah == 0.0 and s.discharge_Ah == 0.0 for s in rests)
    assert store.results(run)["mean_ce"].value == pytest.approx(1.0, abs=1e-3)


@needs_data
def test_a_mpr_takes_its_cycle_definition_from_the_settings_beside_it() -> None:
    pytest.importorskip("galvani")
    path = DATA / "biologic-gcpl" / "jdb11-4.mpr"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    d = read_eclab(path)
    assert d.cycle_definition == "Charge/Discharge alternance"
    assert d.cycle_definition_source == "the header of jdb11-4.mps"
    mpt = read_eclab(DATA / "eclab" / "gcpl.issue_149.mpt")
    assert (mpt.cycle_definition, mpt.cycle_definition_source) == (
        "Charge/Discharge alternance",
        "its header",
    )


def test_cycle_numbers_follow_the_cycle_definition() -> None:
    half = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    dq = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 1.0, 1.0, -1.0])  # charge first; a rest in hc 1
    np.testing.assert_array_equal(cycle_index(half, dq, +1), [0, 0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(cycle_index(half, dq, -1), [0, 0, 1, 1, 1, 1, 1, 2])
    # a run opening with a discharge (jdb11-*): its first cycle is that discharge alone
    np.testing.assert_array_equal(cycle_index(half, -dq, +1), [0, 0, 1, 1, 1, 1, 1, 2])
    I = np.array([0.0, 1.0, 1.0, 0.0, -1.0, -1.0, 0.0, 1.0])
    np.testing.assert_array_equal(half_cycles(I), [0, 0, 0, 0, 1, 1, 1, 2])


def test_an_unknown_cycle_definition_is_refused_with_its_line() -> None:
    lines = ["EC-Lab ASCII FILE", "Record Power", "Cycle Definition : Every other Tuesday"]
    with pytest.raises(ValueError, match=r"f\.mpt:3: Cycle Definition 'Every other Tuesday': "
                       "expected 'Charge/Discharge alternance' or 'Discharge/Charge"):  # fmt: skip
        parse_cycle_definition(lines, "f.mpt")
    assert parse_cycle_definition(["Cycle Definition : Discharge/Charge alternance"], "x") == (
        "Discharge/Charge alternance"
    )
    assert parse_cycle_definition(["no such line"], "x") is None


@needs_data
def test_discharge_charge_alternance_pairs_each_discharge_with_the_next_charge(
    store: Store, tmp_path: Path
) -> None:
    """The same .mpr, with settings beside it saying Discharge/Charge: cycles regroup."""
    pytest.importorskip("galvani")
    source = DATA / "eclab" / "gcpl.issue_149.mpr"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    mpr = tmp_path / "gcpl_C01.mpr"
    mpr.write_bytes(source.read_bytes())  # in tmp only, beside a settings file of our own
    (tmp_path / "gcpl.mps").write_text(
        "EC-LAB SETTING FILE\n\nCycle Definition : Discharge/Charge alternance\n",
        encoding="latin-1",
    )
    run = import_eclab(store, mpr, load_cell("ss-qse-ss"), operator="test")
    results = store.results(run)
    meta = results["cycles_metadata"].data
    assert "Discharge/Charge alternance" in meta["cycle_numbering"]
    assert meta["cycle_order"] == "discharge then charge"
    assert meta["incomplete_cycles_left_out"] == [1, 5]  # the first charge, the last discharge
    assert [r["cycle"] for r in results["cycles"].data] == [2, 3, 4]
    assert store.get_run(run).instrument["cycle_definition"] == (  # type: ignore[union-attr]
        "Discharge/Charge alternance (the header of gcpl.mps)"
    )
