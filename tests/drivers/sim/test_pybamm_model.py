"""``model = "pybamm"``: PyBaMM's SPMe (Chen2020) driven by the engine through the ordinary
simulated channel. Skipped without the optional extra (about 0.9 GB, 90 s to install: not in
the test extra)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pybamm", reason="PyBaMM is the optional extra cyclerctl[pybamm]")

from cyclerctl.drivers.sim import build_cell_model
from cyclerctl.protocol.compiler import load_cell


def test_holds_are_pure_and_commit_moves_the_cell() -> None:
    model = build_cell_model(load_cell("ncm622-pybamm"))
    current = 0.198e-3  # 1C
    first = model.hold_current(current, np.array([0.0, 600.0, 1200.0]))
    again = model.hold_current(current, np.array([0.0, 600.0, 1200.0]))
    np.testing.assert_allclose(first.voltage_V, again.voltage_V)  # asking changes nothing
    assert first.voltage_V[2] > first.voltage_V[0]  # charging raises V
    assert first.charge_C[2] == pytest.approx(current * 1200, rel=1e-6)
    model.commit(first, 2)
    later = model.hold_current(0.0, np.array([0.0]))
    assert later.voltage_V[0] < first.voltage_V[2]  # at rest the IR drop is gone
    held = model.hold_voltage(4.2, np.array([0.0, 60.0, 600.0]))
    assert held.voltage_V == pytest.approx([4.2, 4.2, 4.2], abs=1e-4)  # solver tolerance
    assert held.current_A[0] > held.current_A[2] > 0  # a CV charge's current decays


def test_the_cycling_protocol_runs_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclerctl.cli import main

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    args = ["run", "ncm622-cycling", "--cell", "ncm622-pybamm", "--set", "cycles=1"]
    assert main([*args, "--set", "formation_cycles=1", "--db", url, "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run"]["status"] == "completed"
    cycles = out["results"]["cycles"]
    last = cycles[-1]
    # Chen2020 scaled to 0.198 mAh: about its nominal capacity at C/10 in 3.0-4.3 V, less at 1C
    assert 0.17 < last["discharge_capacity_mAh"] < 0.215
    assert 3.4 < last["mean_discharge_voltage_V"] < 3.85
