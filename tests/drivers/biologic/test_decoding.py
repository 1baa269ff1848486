"""BL_GetData buffers built by hand, word by word, as the guide lays them out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cyclerctl.drivers.biologic import EClib, EmulatedEClib
from cyclerctl.drivers.biologic import eclib_types as T
from cyclerctl.drivers.biologic.decoding import decode
from cyclerctl.drivers.biologic.eclib import DataRead


def single(x: float) -> int:
    """The 32 bits of an IEEE single, as the buffer holds it."""
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def time_words(t: float, timebase: float) -> list[int]:
    ticks = round(t / float(np.float32(timebase)))
    return [ticks >> 32, ticks & 0xFFFFFFFF]


def buffer(
    rows: list[list[int]], technique: int, *, process: int = 0, index: int = 0, timebase: float
) -> DataRead:
    infos = T.TDataInfos()
    infos.NbRows, infos.NbCols = len(rows), len(rows[0])
    infos.TechniqueID, infos.ProcessIndex, infos.TechniqueIndex = technique, process, index
    values = T.TCurrentValues()
    values.TimeBase = timebase
    values.State = T.STATE_RUN
    return DataRead(np.array(rows, dtype=np.uint32).ravel(), infos, values)


def test_ocv_rows_carry_a_64_bit_tick_count() -> None:
    tb = 20e-6
    # 100 000 s is 5·10⁹ ticks: the high word is used
    rows = [
        [*time_words(1.5, tb), single(3.25), single(0.0)],
        [*time_words(100_000.0, tb), single(3.26), single(0.0)],
    ]
    decoded = decode(buffer(rows, T.TECH_OCV, timebase=tb))
    assert rows[1][0] == 1
    assert decoded.t_s == pytest.approx([1.5, 100_000.0], abs=tb)
    assert decoded.Ewe == pytest.approx([3.25, 3.26], rel=1e-7)
    assert np.all(decoded.I == 0)  # OCV measures no current


def test_ocv_rows_of_a_vmp300_board_have_no_ece() -> None:
    decoded = decode(buffer([[*time_words(2.0, 20e-6), single(1.0)]], T.TECH_OCV, timebase=20e-6))
    assert decoded.t_s == pytest.approx([2.0]) and decoded.Ewe == pytest.approx([1.0])


@pytest.mark.parametrize("technique", [T.TECH_CP, T.TECH_CPLIMIT, T.TECH_CA, T.TECH_CALIMIT])
def test_cp_ca_rows_are_time_ewe_i_cycle(technique: int) -> None:
    tb = 50e-6
    rows = [[*time_words(10.0, tb), single(3.9), single(-1.5e-3), 0]]
    decoded = decode(buffer(rows, technique, index=1, timebase=tb))
    assert decoded.technique_index == 1 and decoded.technique_id == technique
    assert decoded.t_s == pytest.approx([10.0], abs=tb)
    assert decoded.Ewe == pytest.approx([3.9], rel=1e-7)
    assert decoded.I.tolist() == pytest.approx([-1.5e-3], rel=1e-7)


def test_voltage_scan_rows_take_ewe_not_the_control_potential() -> None:
    tb = 40e-6
    rows = [[*time_words(3.0, tb), single(4.0), single(2e-6), single(4.001), 0]]
    decoded = decode(buffer(rows, T.TECH_PDYN, timebase=tb))
    assert decoded.Ewe == pytest.approx([4.001], rel=1e-7)
    assert decoded.I.tolist() == pytest.approx([2e-6], rel=1e-7)


def test_peis_process_0_is_the_dc_step() -> None:
    tb = 24e-6
    rows = [[*time_words(0.5, tb), single(0.002), single(1e-9)]]  # t_high, t_low, Ewe, I
    decoded = decode(buffer(rows, T.TECH_PEIS, timebase=tb))
    assert decoded.frequency_Hz is None
    assert decoded.t_s == pytest.approx([0.5], abs=tb)


@pytest.mark.parametrize("columns", [14, 15])  # VMP-300 series, VMP-3 series (I range)
def test_peis_process_1_is_one_impedance_point_per_row(columns: int) -> None:
    z = complex(20.0, -5.0)
    amplitude = 0.01
    row = [
        single(1000.0),
        single(amplitude),
        single(amplitude / abs(z)),
        single(math.atan2(z.imag, z.real)),
        single(0.0012),
        single(1e-9),
        0,
        single(0.0),
        single(0.0),
        single(0.0),
        single(0.0),
        0,
        0,
        single(12.5),
    ]
    if columns == 15:
        row.append(T.IRANGE_AUTO)
    decoded = decode(buffer([row], T.TECH_PEIS, process=1, timebase=24e-6))
    assert decoded.frequency_Hz == pytest.approx([1000.0])
    assert decoded.Zre == pytest.approx([20.0], rel=1e-6)
    assert decoded.Zim == pytest.approx([-5.0], rel=1e-6)
    assert decoded.Ewe == pytest.approx([0.0012], rel=1e-7)
    assert decoded.t_s == pytest.approx([12.5])


def test_singles_can_go_through_the_library_conversion(
    eclib: EClib, library: EmulatedEClib
) -> None:
    """A channel not in IEEE format: every single through BL_ConvertChannelNumericIntoSingle."""
    rows = [[*time_words(1.0, 21e-6), single(3.5), single(2e-3), 0]]

    def convert(words: np.ndarray) -> np.ndarray:
        board = T.BOARD_ESSENTIAL
        return np.array([eclib.convert_channel_numeric_into_single(int(w), board) for w in words])

    decoded = decode(buffer(rows, T.TECH_CP, timebase=21e-6), convert)
    assert decoded.Ewe == pytest.approx([3.5]) and decoded.I.tolist() == pytest.approx([2e-3])
    calls = library.take_calls()
    assert [c.name for c in calls] == ["BL_ConvertChannelNumericIntoSingle"] * 2
    assert calls[0].args == (single(3.5), T.BOARD_ESSENTIAL)


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="4 columns per row, expected 5"):
        decode(buffer([[0, 0, 0, 0]], T.TECH_CP, timebase=21e-6))
