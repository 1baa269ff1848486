"""Library protocols end to end through the engine: BioLogicInstrument on the emulated EClib
against the same protocol on SimInstrument, same cell, same seed. The results agree within
the noise: what differs is only what the vendor path adds (single-precision values, time in
time-base ticks, the charge integrated from I, CC-CV as two linked techniques)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclerctl.drivers.base import Instrument
from cyclerctl.drivers.biologic import open_instrument
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.session import RunReport, execute_run
from cyclerctl.plan import EndCondition, Plan, Step
from cyclerctl.protocol import load_cell, load_plan
from cyclerctl.store import Result, Store

SEED = 7


def _run(store: Store, plan: Plan, instrument: Instrument) -> RunReport:
    report = execute_run(
        store,
        plan,
        instrument.channels[0],
        instrument=instrument.identity.as_dict(),
        operator="test",
    )
    assert report.run.status == "completed", [e.message for e in store.events(report.run.id)]
    return report


def _both(
    tmp_path: Path,
    protocol: str,
    cell: str,
    overrides: dict[str, str] | None = None,
    model: str = "VMP3",
) -> tuple[Store, RunReport, RunReport, dict[str, Result], dict[str, Result]]:
    """The protocol on the simulator, then on the emulated BioLogic (``model``)."""
    store = Store.open(f"sqlite:///{tmp_path}/x.db")
    plan = load_plan(protocol, cell, overrides or {})
    simulated = _run(store, plan, SimInstrument([plan.cell], seed=SEED))
    options = {"emulated_cells": [plan.cell], "seed": SEED, "model": model}
    biologic = open_instrument("emulated", options)
    assert biologic.identity.vendor == "BioLogic"
    emulated = _run(store, plan, biologic)
    a, b = store.results(simulated.run.id), store.results(emulated.run.id)
    return store, simulated, emulated, a, b


def test_eis_conductivity(tmp_path: Path) -> None:
    _, _, _, sim, bl = _both(tmp_path, "eis-conductivity", "ss-qse-ss")
    assert bl["conductivity_S_cm"].value == pytest.approx(sim["conductivity_S_cm"].value, rel=0.01)


@pytest.mark.parametrize("model", ["VMP3", "SP-300"])  # 6- and 5-column scan rows
def test_lsv_window(tmp_path: Path, model: str) -> None:
    _, _, _, sim, bl = _both(tmp_path, "lsv-window", "li-qse-ss", model=model)
    assert bl["oxidation_onset_V"].value == pytest.approx(sim["oxidation_onset_V"].value, abs=5e-3)


def test_li_cu_ce(tmp_path: Path) -> None:
    store, simulated, emulated, sim, bl = _both(tmp_path, "li-cu-ce", "li-qse-cu")
    assert bl["ce_avg"].value == pytest.approx(sim["ce_avg"].value, abs=1e-3)
    reasons = [s.end_reason for s in store.steps(emulated.run.id)]
    assert reasons == [s.end_reason for s in store.steps(simulated.run.id)]
    assert set(reasons) == {"limit:charge", "limit:voltage"}


def test_ncm622_cycling(tmp_path: Path) -> None:
    store, simulated, emulated, sim, bl = _both(
        tmp_path, "ncm622-cycling", "ncm622-coin", {"cycles": "2", "formation_cycles": "1"}
    )
    name = "first_discharge_capacity_mAh"
    assert bl[name].value == pytest.approx(sim[name].value, rel=0.005)
    a, b = store.steps(simulated.run.id), store.steps(emulated.run.id)
    assert [s.end_reason for s in b] == [s.end_reason for s in a]
    for x, y in zip(a, b, strict=True):
        assert y.charge_Ah == pytest.approx(x.charge_Ah, rel=0.005, abs=1e-9)
        assert y.discharge_Ah == pytest.approx(x.discharge_Ah, rel=0.005, abs=1e-9)


def test_real_time_emulation_follows_the_wall_clock() -> None:
    instrument = open_instrument(
        "emulated",
        {"emulated_cells": [load_cell("ncm622-coin")], "virtual_time": False, "speed": 200.0},
    )
    (channel,) = instrument.channels
    assert not channel.capabilities.virtual_time
    channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 20.0),)))
    first = channel.read()
    assert not first.ended  # 20 s of cell time take 0.1 s here
    for _ in range(10_000):
        samples = channel.read()
        if samples.ended:
            break
    assert samples.ended and samples.end_reason == "time"
