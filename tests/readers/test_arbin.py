"""Arbin: cycle boundaries equal Arbin's own Channel_Statistic_Table; capacities its columns.

The vendor's side: ``Channel_Statistic_Table.csv`` (mdb-export of the table Arbin writes
into the .res: the Data_Point at which it closed each cycle) read with pandas, and the
file's own Charge_/Discharge_Capacity (Ah, accumulated within a cycle) read from
Channel_Normal_Table in a few lines of access-parser: a cycle's capacity is the value at
its last record.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyclerctl.readers.into_store import import_file
from cyclerctl.store import Store
from tests.readers.conftest import shared

RES = "20160805_test001_45_cc_01.res"


@pytest.fixture(scope="module")
def file_columns() -> pd.DataFrame:
    from access_parser import AccessParser

    table = AccessParser(str(shared("arbin") / RES)).parse_table("Channel_Normal_Table")
    columns = ("Data_Point", "Cycle_Index", "Charge_Capacity", "Discharge_Capacity")
    frame = pd.DataFrame({k: table[k] for k in columns})
    return frame.sort_values("Data_Point")


def test_cycles_end_where_arbin_closed_them(store: Store) -> None:
    folder = shared("arbin")
    outcome = import_file(store, folder / RES, analyse=False)
    assert outcome.status == "imported", outcome.reason
    samples = store.samples(outcome.run_ids[0])
    stats = pd.read_csv(folder / "20160805_test001_45_cc_01.Channel_Statistic_Table.csv")
    cycles = np.unique(samples["cycle"])
    assert len(cycles) == 18  # README: 18 cycles; Arbin closed 17, the last was still open
    # seq is the record's position in Data_Point order, which counts from 1 without gaps
    last_seq = [int(samples["seq"][samples["cycle"] == c].max()) for c in cycles[:-1]]
    assert last_seq == stats["Data_Point"].tolist()


def test_per_cycle_capacity_is_the_files_own(store: Store, file_columns: pd.DataFrame) -> None:
    outcome = import_file(store, shared("arbin") / RES, analyse=False)
    steps = store.steps(outcome.run_ids[0])
    vendor = file_columns.groupby("Cycle_Index").last()
    for cycle, row in vendor.iterrows():
        mine = [s for s in steps if s.cycle == cycle]
        assert sum(s.charge_Ah for s in mine) == pytest.approx(row["Charge_Capacity"], abs=1e-12)
        assert sum(s.discharge_Ah for s in mine) == pytest.approx(
            row["Discharge_Capacity"], abs=1e-12
        )
    kinds = {s.name.split(" (")[0] for s in steps}
    assert kinds == {"Rest", "Charge", "Discharge"}


def test_metadata_from_the_global_table(store: Store) -> None:
    outcome = import_file(store, shared("arbin") / RES, analyse=False)
    row = store.imported_file(outcome.run_ids[0])
    assert row is not None
    assert row["tester_channel"] == "96"
    assert row["test_id"] == "20160805_sic006_45_cc_01-01-003"
    assert row["active_mass_kg"] == pytest.approx(0.8528379839845002e-6)  # MASS 0.000853 g
    assert row["file_started_at"].startswith("2016-08-05T16:16")  # OLE date 42587.678…
    assert store.run_snapshot(outcome.run_ids[0])["cell"]["active_mass_kg"] == pytest.approx(  # type: ignore[index]
        0.8528379839845002e-6
    )
