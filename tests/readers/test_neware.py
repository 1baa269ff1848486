"""Neware: every record and every cycle's capacities equal BTSDA's own export of the file.

Beside each shared .ndax/.nda is a .parquet of the same records as Neware's BTSDA exports
them (Cycle Index, Step Index, Step Count, Step Type, Total Time, Current(uA), Voltage(mV),
Capacity(mAs); see ../shared/data/neware/README.md). The vendor's side here is a few lines
of pandas over that parquet; ours is what the import stored, read back from the database.

Tolerances are the resolution of BTSDA's export: its text rounds current to 1 µA, voltage to
0.1 mV, capacity to 1 mAs (so half a unit), and both sides are float32 in the file (a few
ulps: 4e-7 relative). BTSDA prints Total Time with fewer digits as a test grows (0.01 s
below 1800 s … 10 s above 1e7 s), as fastnda's own tests note.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from cyclerctl.readers.into_store import import_file
from cyclerctl.readers.neware import NewareReader
from cyclerctl.store import Store
from tests.readers.conftest import DATA, shared

NEWARE = DATA / "neware"
SMALL = [
    "21_10_7_85.ndax",
    "46_1_5_60_bts16.ndax",
    "TESTCELL0001-B2-2025-M50T_NewareNDA_Investigation.ndax",
    "TESTCELL0001-Test_Data_Collection_Ndc17.ndax",
    "TestFile.nda.zip",
    "Unit27_Example_Corrupt.ndax",
    "Unit27_Example_Data_File.ndax",
    "interp-test.ndax",
    "nda8.nda.zip",
    "nda_v22.nda.zip",
    "nda_v8.nda.zip",
    "new_nda_file.nda.zip",
    "scrubbed_ndc2.ndax",
    "test_2.ndax",
]
#: BTSDA's export of test_2 numbers cycles "a charge after a discharge starts a cycle"
#: (54), not by the loop counter the file stores (44): compare it with that numbering.
CHARGE_NUMBERED = {"test_2.ndax"}


def vendor(name: str) -> pd.DataFrame:
    return pd.read_parquet(NEWARE / (name.split(".")[0] + ".parquet"))


def imported(store: Store, name: str) -> tuple[int, Any, dict[int, Any]]:
    path = shared("neware") / name
    numbering = "charge" if name in CHARGE_NUMBERED else "file"
    outcome = import_file(
        store, path, reader=NewareReader(cycle_numbering=numbering), analyse=False
    )
    assert outcome.status == "imported", outcome.reason
    (run_id,) = outcome.run_ids
    return run_id, store.samples(run_id), {s.step: s for s in store.steps(run_id)}


def total_time_tolerance(t: np.ndarray) -> np.ndarray:
    return np.select([t < 1800, t < 1e6, t < 1e7], [0.0101, 0.101, 1.01], 10.1)


def within(ours: np.ndarray, ref: np.ndarray, half_unit: float) -> float:
    """The largest deviation; asserts every one is within the export's resolution."""
    dev = np.abs(ours - ref)
    bad = dev > half_unit + 4e-7 * np.abs(ref)
    assert not bad.any(), f"{bad.sum()} records off, first at {np.flatnonzero(bad)[:3]}"
    return float(dev.max()) if dev.size else 0.0


def per_cycle_capacity_vendor(ref: pd.DataFrame) -> pd.DataFrame:
    """README's rule: per step, the largest |Capacity|; summed per Cycle Index over Chg and
    DChg steps (mAh)."""
    kind = ref["Step Type"].astype(str)
    per_step = (
        ref.assign(q=ref["Capacity(mAs)"].abs(), kind=kind)
        .groupby(["Step Count", "Cycle Index", "kind"], observed=True)["q"]
        .max()
        .reset_index()
    )
    is_dchg = per_step["kind"].str.contains("DChg|Dchg")
    is_chg = per_step["kind"].str.contains("Chg") & ~is_dchg
    charge = per_step[is_chg].groupby("Cycle Index")["q"].sum() / 3600
    discharge = per_step[is_dchg].groupby("Cycle Index")["q"].sum() / 3600
    cycles = sorted(ref["Cycle Index"].unique())
    return pd.DataFrame(
        {"charge": charge.reindex(cycles, fill_value=0.0),
         "discharge": discharge.reindex(cycles, fill_value=0.0)}
    )  # fmt: skip


def compare(store: Store, name: str) -> dict[str, Any]:
    ref = vendor(name)
    _run_id, s, steps = imported(store, name)
    assert len(s) == len(ref)
    figures: dict[str, Any] = {"records": len(s), "cycles": int(ref["Cycle Index"].nunique())}
    t_dev = np.abs(s["t"] - ref["Total Time"].to_numpy())
    assert (t_dev <= total_time_tolerance(ref["Total Time"].to_numpy())).all()
    figures["t_s"] = float(t_dev.max())
    figures["I_uA"] = within(s["I"] * 1e6, ref["Current(uA)"].to_numpy(np.float64), 0.5)
    figures["V_mV"] = within(s["V"] * 1e3, ref["Voltage(mV)"].to_numpy(np.float64), 0.05)
    figures["Q_mAs"] = within(
        np.abs(s["Q"]) * 1e3, np.abs(ref["Capacity(mAs)"].to_numpy(np.float64)), 0.5
    )
    assert (s["cycle"] == ref["Cycle Index"].to_numpy()).all()
    plan_index = np.array([steps[k].plan_index for k in s["step"]])
    assert (plan_index == ref["Step Index"].to_numpy()).all()
    # a new step exactly where BTSDA's Step Count changes
    assert ((np.diff(s["step"]) != 0) == (np.diff(ref["Step Count"].to_numpy()) != 0)).all()
    vendor_type = (
        ref["Step Type"].astype(str).str.replace(" ", "_").str.replace("Dchg", "DChg")
        .str.replace("Pulse_Step", "Pulse")
    )  # fmt: skip
    ours_type = np.array([steps[k].name.split(" (step")[0] for k in s["step"]])
    assert (ours_type == vendor_type.to_numpy()).all()

    expected = per_cycle_capacity_vendor(ref)
    charge: dict[int, float] = {}
    discharge: dict[int, float] = {}
    for step in steps.values():
        charge[step.cycle] = charge.get(step.cycle, 0.0) + step.charge_Ah * 1e3
        discharge[step.cycle] = discharge.get(step.cycle, 0.0) + step.discharge_Ah * 1e3
    ours = pd.DataFrame({"charge": charge, "discharge": discharge}).reindex(expected.index)
    steps_per_cycle = ref.groupby("Cycle Index")["Step Count"].nunique().to_numpy()
    # per step half a mAs of export rounding plus float32 ulps, summed over the cycle's steps
    tol = steps_per_cycle[:, None] * 0.5 / 3600 + 4e-7 * expected.to_numpy()
    dev = np.abs(ours.to_numpy() - expected.to_numpy())
    assert (dev <= tol).all(), f"cycle capacities off by {dev.max():.3g} mAh"
    figures["cap_mAh"] = float(dev.max())
    figures["last_cycle_mAh"] = (
        round(float(ours["discharge"].iloc[-1]), 4),
        round(float(expected["discharge"].iloc[-1]), 4),
    )
    return figures


@pytest.mark.parametrize("name", SMALL)
def test_every_record_equals_btsda(store: Store, name: str) -> None:
    compare(store, name)


@pytest.mark.slow
def test_the_large_nda_v26_equals_btsda(store: Store) -> None:
    figures = compare(store, "nda_v26.nda.zip")
    assert figures["cycles"] == 8992


def test_test_2_stores_its_own_loop_counter_unless_asked(store: Store) -> None:
    """Why test_2 is compared with charge numbering: the file's own counter says 44."""
    outcome = import_file(store, shared("neware") / "test_2.ndax", analyse=False)
    cycles = np.unique(store.samples(outcome.run_ids[0])["cycle"])
    assert cycles.max() == 44
    assert vendor("test_2.ndax")["Cycle Index"].max() == 54


def test_the_damaged_file_imports_its_records_and_says_what_is_lost(store: Store) -> None:
    outcome = import_file(store, shared("neware") / "Unit27_Example_Corrupt.ndax")
    assert outcome.status == "imported"
    assert any("TestInfo.xml" in w for w in outcome.warnings)
    (run_id,) = outcome.run_ids
    events = store.events(run_id)
    assert any(e.severity == "warning" and "TestInfo.xml" in e.message for e in events)


def test_ndax_metadata_names_the_tester_channel_and_test(store: Store) -> None:
    outcome = import_file(store, shared("neware") / "test_2.ndax", analyse=False)
    row = store.imported_file(outcome.run_ids[0])
    assert row is not None
    # TestInfo.xml: DevID="14" UnitID="0" ChlID="55" TestID="523" StartTime="2025-03-26 09:22:52"
    assert row["tester_channel"] == "14-0-55"
    assert row["test_id"] == "523"
    assert row["file_started_at"] == "2025-03-26T09:22:52"
    assert row["vendor"] == "neware" and row["reader"].startswith("fastnda")


def test_nda_metadata_carries_the_active_mass(store: Store) -> None:
    outcome = import_file(store, shared("neware") / "nda_v22.nda.zip", analyse=False)
    row = store.imported_file(outcome.run_ids[0])
    assert row is not None
    assert row["active_mass_kg"] == pytest.approx(1e-6)  # the file: 1 mg
    assert row["format_version"] == "nda 22"
