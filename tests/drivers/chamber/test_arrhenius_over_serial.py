"""The whole path: eis-arrhenius with the chamber set over a serial line.

The simulated cycler measures the cell; the engine sets the temperature through
SerialChamber → pseudo-terminal → ChamberEmulator, which wraps the simulated instrument's
own chamber, so the cell takes the temperature the serial commands asked for. The result
must match the run with the chamber in-process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclerctl.drivers.base import Chamber
from cyclerctl.drivers.chamber import ChamberEmulator, SerialChamber
from cyclerctl.drivers.sim import SimInstrument
from cyclerctl.engine.session import RunReport, execute_run
from cyclerctl.protocol import load_plan
from cyclerctl.store import Store

TEMPERATURES = "30 degC, 50 degC, 70 degC, 90 degC"


def _run(db: Path, *, over_serial: bool) -> tuple[RunReport, Store, ChamberEmulator | None]:
    plan = load_plan("eis-arrhenius", "ss-qse-ss", {"temperatures": TEMPERATURES})
    instrument = SimInstrument([plan.cell], chamber=True)
    assert instrument.chamber is not None
    emulator: ChamberEmulator | None = None
    chamber: Chamber = instrument.chamber
    if over_serial:
        emulator = ChamberEmulator(instrument.chamber)
        chamber = SerialChamber(emulator.address, timeout=1.0)
    store = Store.open(f"sqlite:///{db}")
    try:
        report = execute_run(
            store,
            plan,
            instrument.channels[0],
            instrument=instrument.identity.as_dict(),
            operator="test",
            chamber=chamber,
        )
    finally:
        chamber.close()
        if emulator is not None:
            emulator.close()
    return report, store, emulator


def test_eis_arrhenius_over_the_serial_chamber_matches_the_in_process_run(
    tmp_path: Path,
) -> None:
    serial_report, serial_store, emulator = _run(tmp_path / "serial.db", over_serial=True)
    local_report, local_store, _ = _run(tmp_path / "local.db", over_serial=False)
    for report in (serial_report, local_report):
        assert report.run.status == "completed", report.outcome
        assert report.run.end_reason == "completed"

    # the chamber steps went over the wire, in °C, each acknowledged, and ended stable
    assert emulator is not None
    set_points = [r for r in emulator.requests if r.startswith("TEMP, S")]
    assert set_points == ["TEMP, S30.0", "TEMP, S50.0", "TEMP, S70.0", "TEMP, S90.0"]
    assert emulator.requests[0] == "ROM?"
    assert emulator.requests.count("MODE,CONSTANT") == 4
    steps = serial_store.steps(serial_report.run.id)
    assert [s.end_reason for s in steps if s.name == "set temperature"] == ["stable"] * 4

    serial_ea = serial_store.results(serial_report.run.id)["activation_energy_eV"].value
    local_ea = local_store.results(local_report.run.id)["activation_energy_eV"].value
    assert serial_ea is not None and local_ea is not None
    assert serial_ea == pytest.approx(0.30, rel=0.05)
    assert serial_ea == pytest.approx(local_ea, rel=0.01)

    # each spectrum was measured at its set point: the cell sat in the chamber we set
    table = serial_store.results(serial_report.run.id)["conductivity_vs_temperature"].data
    assert [round(row["temperature_C"]) for row in table] == [30, 50, 70, 90]
    serial_store.close()
    local_store.close()
