"""`cyclerctl analyze RUN --dqdv 1,3 [-o FILE]` on a simulated NCM622 run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cyclerctl.cli import main


@pytest.fixture(scope="module")
def cycled(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = f"sqlite:///{tmp_path_factory.mktemp('dqdv') / 'runs.db'}"
    code = main(["run", "ncm622-cycling", "--cell", "ncm622-coin", "--set", "cycles=2",
                 "--db", db, "--quiet"])  # fmt: skip
    assert code == 0
    return db


def test_dqdv_of_chosen_cycles_is_printed_and_written(
    cycled: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dqdv.csv"
    assert main(["analyze", "1", "--db", cycled, "--dqdv", "1,3", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dQ/dV cycle 1 charge" in text and "dQ/dV cycle 3 discharge" in text
    assert "voltage binning, 10 mV bins" in text
    table = pd.read_csv(out)
    assert set(table["cycle"]) == {1, 3}
    # NCM622's main redox peak sits near 3.7-3.8 V on charge
    charge = table[(table["cycle"] == 3) & (table["half"] == "charge")
                   & (table["quantity"] == "dQ/dV")]  # fmt: skip
    assert 3.6 < charge.loc[charge["y"].abs().idxmax(), "x"] < 3.9


def test_dqdv_in_json(cycled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "1", "--db", cycled, "--dqdv", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["half"] for c in data["dqdv"]} == {"charge", "discharge"}


@pytest.mark.parametrize("cycles", ["x", "0", "1,,-2"])
def test_bad_cycles_exit_2(cycled: str, cycles: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "1", "--db", cycled, "--dqdv", cycles]) == 2
    assert "--dqdv" in capsys.readouterr().err
