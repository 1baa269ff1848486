"""Each board family end to end: the emulated library writes its family's rows (widths as
``decoding`` tabulates them from the public decoders) and the driver reads them back."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.drivers.biologic import (
    BioLogicInstrument,
    EClib,
    EmulatedEClib,
    UnknownRowLayout,
)
from cyclerctl.drivers.biologic import eclib_types as T
from cyclerctl.drivers.biologic.driver import BioLogicChannel
from cyclerctl.drivers.biologic.eclib import DataRead
from cyclerctl.drivers.sim.dummy import dummy, dummy_cell
from cyclerctl.plan import EisSettings, EndCondition, Step, SweepSettings
from tests.drivers.biologic.stepping import run_step

#: model → (family, {(technique, process): columns})
FAMILIES = {
    "VMP3": "VMP3",
    "SP-50": "VMP3",
    "SP-150": "VMP3",
    "SP-300": "SP-300",
    "VSP-300": "SP-300",
}
WIDTHS = {
    "VMP3": {
        (T.TECH_OCV, 0): 4,
        (T.TECH_CP, 0): 5,
        (T.TECH_PDYN, 0): 6,
        (T.TECH_PEIS, 0): 4,
        (T.TECH_PEIS, 1): 15,
    },
    "SP-300": {
        (T.TECH_OCV, 0): 3,
        (T.TECH_CP, 0): 5,
        (T.TECH_PDYN, 0): 5,
        (T.TECH_PEIS, 0): 4,
        (T.TECH_PEIS, 1): 14,
    },
}
R = 1000.0


class RecordingEClib(EClib):
    """The binding, noting the shape of every BL_GetData answer."""

    def __init__(self, library: EmulatedEClib) -> None:
        super().__init__(library)
        self.shapes: set[tuple[int, int, int]] = set()

    def get_data(self, device_id: int, channel: int) -> DataRead:
        data = super().get_data(device_id, channel)
        if data.infos.NbRows > 0:
            self.shapes.add(
                (int(data.infos.TechniqueID), int(data.infos.ProcessIndex), int(data.infos.NbCols))
            )
        return data


def _open(model: str) -> tuple[BioLogicChannel, RecordingEClib]:
    load = dummy_cell(R, series_ohm=R / 10, capacitance_F=1e-6)
    eclib = RecordingEClib(EmulatedEClib([load], model=model, seed=1))
    instrument = BioLogicInstrument("USB0", eclib, virtual_time=True)
    instrument.connect()
    return instrument.channels[0], eclib


@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_every_technique_round_trips_in_the_family_layout(model: str) -> None:
    channel, eclib = _open(model)
    family = FAMILIES[model]
    assert channel.family == family

    rest, _ = run_step(channel, Step(0, "rest", "rest", ends=(EndCondition("time", 3.0),)))
    assert rest["V"] == pytest.approx(0.0, abs=1e-3)
    assert rest["t"][-1] == pytest.approx(3.0, abs=1e-3)

    # 1 mA into 100 Ω + (1 kΩ ‖ 1 µF): the capacitor settles within ms, so V = 1.1 V
    step = Step(1, "cc", "cc", current_A=1e-3, ends=(EndCondition("time", 5.0),))
    cc, _ = run_step(channel, step)
    assert cc["I"] == pytest.approx(1e-3, rel=1e-3)
    assert cc["V"][-1] == pytest.approx(1.1, abs=2e-3)

    sweep = SweepSettings(scan_rate_V_s=0.1, vertices_V=(0.5,), start_V=0.0)
    swept, _ = run_step(channel, Step(2, "lsv", "sweep", sweep=sweep))
    assert swept["V"][-1] == pytest.approx(0.5, abs=2e-3)
    # slow against RC: I follows V/(R_s + R_p)
    assert swept["I"][-1] == pytest.approx(0.5 / 1100, rel=0.01)
    assert np.all(np.diff(swept["t"]) > 0)

    eis = EisSettings("potentiostatic", 1e4, 10.0, 0.01, points_per_decade=2)
    _, z = run_step(channel, Step(3, "eis", "eis", eis=eis))
    assert z is not None and len(z) == 7
    expected = dummy(dummy_cell(R, series_ohm=R / 10, capacitance_F=1e-6)).impedance(z["f"])
    assert z["Zre"] + 1j * z["Zim"] == pytest.approx(expected, rel=0.01)

    assert eclib.shapes == {
        (technique, process, width) for (technique, process), width in WIDTHS[family].items()
    }


class WiderRows(EClib):
    """The binding, handing on every row with one word more than the device wrote."""

    def get_data(self, device_id: int, channel: int) -> DataRead:
        data = super().get_data(device_id, channel)
        rows, cols = int(data.infos.NbRows), int(data.infos.NbCols)
        if rows <= 0:
            return data
        table = np.zeros((rows, cols + 1), dtype=np.uint32)
        table[:, :cols] = data.words.reshape(rows, cols)
        data.infos.NbCols = cols + 1
        return DataRead(table.ravel(), data.infos, data.values)


def test_rows_of_an_unknown_layout_stop_the_read_and_the_channel_stops_cleanly() -> None:
    library = EmulatedEClib([dummy_cell(R)], model="SP-300")
    instrument = BioLogicInstrument("USB0", WiderRows(library), virtual_time=True)
    instrument.connect()
    channel = instrument.channels[0]
    channel.start_step(Step(0, "rest", "rest", ends=(EndCondition("time", 30.0),)))
    with pytest.raises(UnknownRowLayout) as fault:
        channel.read()
    assert str(fault.value).startswith(
        "BL_GetData: OCV (technique 100) process 0 on board type 2 (SP-300 family): "
        "4 columns per row, where the SP-300 family's layout has 3"
    )
    library.take_calls()
    channel.stop()  # what the engine does with any fault: the cell is brought to rest
    assert [c.name for c in library.take_calls()] == ["BL_StopChannel"]
    assert library.channels[0].state == T.STATE_STOP
