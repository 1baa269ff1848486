"""BL_GetData buffers decoded per board family: rows built word by word from the layouts the
public decoders give, and rows a real VSP-300 returned (``captures/``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclerctl.drivers.biologic import EClib, EmulatedEClib, UnknownRowLayout
from cyclerctl.drivers.biologic import eclib_types as T
from cyclerctl.drivers.biologic.decoding import (
    FAMILY_OF_BOARD,
    FAMILY_OF_DEVICE,
    PHASE_ZWE_UNIT,
    decode,
)
from cyclerctl.drivers.biologic.eclib import DataRead
from cyclerctl.drivers.biologic.emulated_eclib import MODELS

CAPTURES = Path(__file__).parent / "captures"
VMP3, SP300 = T.BOARD_ESSENTIAL, T.BOARD_PREMIUM


def single(x: float) -> int:
    """The 32 bits of an IEEE single, as the buffer holds it."""
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def time_words(t: float, timebase: float) -> list[int]:
    ticks = round(t / float(np.float32(timebase)))
    return [ticks >> 32, ticks & 0xFFFFFFFF]


def buffer(
    rows: list[list[int]],
    technique: int,
    *,
    process: int = 0,
    index: int = 0,
    timebase: float,
    start: float = 0.0,
) -> DataRead:
    infos = T.TDataInfos()
    infos.NbRows, infos.NbCols = len(rows), len(rows[0])
    infos.TechniqueID, infos.ProcessIndex, infos.TechniqueIndex = technique, process, index
    infos.StartTime = start
    values = T.TCurrentValues()
    values.TimeBase = timebase
    values.State = T.STATE_RUN
    return DataRead(np.array(rows, dtype=np.uint32).ravel(), infos, values)


# -- OCV --------------------------------------------------------------------------------------


def test_ocv_rows_carry_a_64_bit_tick_count() -> None:
    """VMP3 family: t_high, t_low, Ewe, Ece (kbio_tech: two words after the time)."""
    tb = 20e-6
    # 100 000 s is 5·10⁹ ticks: the high word is used
    rows = [
        [*time_words(1.5, tb), single(3.25), single(0.0)],
        [*time_words(100_000.0, tb), single(3.26), single(0.0)],
    ]
    decoded = decode(buffer(rows, T.TECH_OCV, timebase=tb), VMP3)
    assert rows[1][0] == 1
    assert decoded.t_s == pytest.approx([1.5, 100_000.0], abs=tb)
    assert decoded.Ewe == pytest.approx([3.25, 3.26], rel=1e-7)
    assert np.all(decoded.I == 0)  # OCV measures no current


def test_ocv_rows_of_an_sp300_family_board_have_no_ece() -> None:
    """easy-biologic SP300_Fields.OCV: t_high, t_low, voltage."""
    decoded = decode(
        buffer([[*time_words(2.0, 20e-6), single(1.0)]], T.TECH_OCV, timebase=20e-6), SP300
    )
    assert decoded.t_s == pytest.approx([2.0]) and decoded.Ewe == pytest.approx([1.0])


@pytest.mark.parametrize(("board", "columns"), [(VMP3, 3), (SP300, 4), (T.BOARD_PREMIUM_P, 4)])
def test_an_ocv_row_of_the_other_family_is_refused(board: int, columns: int) -> None:
    row = [*time_words(2.0, 20e-6), single(1.0), single(0.5)][:columns]
    family = FAMILY_OF_BOARD[board]
    with pytest.raises(
        UnknownRowLayout,
        match=rf"OCV \(technique 100\) process 0 on board type {board} \({family} family\)",
    ):
        decode(buffer([row], T.TECH_OCV, timebase=20e-6), board)


# -- CP / CA ------------------------------------------------------------------------------------


@pytest.mark.parametrize("board", [VMP3, SP300])
@pytest.mark.parametrize("technique", [T.TECH_CP, T.TECH_CPLIMIT, T.TECH_CA, T.TECH_CALIMIT])
def test_cp_ca_rows_are_time_ewe_i_cycle(technique: int, board: int) -> None:
    """kbio_tech CP and easy-biologic CP/CA/CPLIMIT/CALIMIT: the same 5 columns on both."""
    tb = 50e-6
    rows = [[*time_words(10.0, tb), single(3.9), single(-1.5e-3), 2]]
    decoded = decode(buffer(rows, technique, index=1, timebase=tb), board)
    assert decoded.technique_index == 1 and decoded.technique_id == technique
    assert decoded.t_s == pytest.approx([10.0], abs=tb)
    assert decoded.Ewe == pytest.approx([3.9], rel=1e-7)
    assert decoded.I.tolist() == pytest.approx([-1.5e-3], rel=1e-7)


# -- sweeps -------------------------------------------------------------------------------------


@pytest.mark.parametrize("technique", [T.TECH_CV, T.TECH_PDYN])
def test_vmp3_family_sweep_rows_are_ec_i_ewe_cycle(technique: int) -> None:
    """easy-biologic VMP3_Fields.CV: control, current, voltage, cycle (6 columns)."""
    tb = 40e-6
    rows = [[*time_words(3.0, tb), single(4.0), single(2e-6), single(4.001), 1]]
    decoded = decode(buffer(rows, technique, timebase=tb), VMP3)
    assert decoded.Ewe == pytest.approx([4.001], rel=1e-7)  # Ewe, not the control potential
    assert decoded.I.tolist() == pytest.approx([2e-6], rel=1e-7)
    assert decoded.t_s == pytest.approx([3.0], abs=tb)


@pytest.mark.parametrize("technique", [T.TECH_CV, T.TECH_PDYN])
def test_sp300_family_sweep_rows_are_i_ewe_cycle(technique: int) -> None:
    """easy-biologic SP300_Fields.CV: current, voltage, cycle (5 columns), as
    unpack_experiment_data (3 words after the time when not VMP3) and SECCM_UI read them."""
    tb = 50e-6
    rows = [
        [*time_words(3.0, tb), single(2e-6), single(4.001), 0],
        [*time_words(3.5, tb), single(-7e-6), single(3.95), 1],
    ]
    decoded = decode(buffer(rows, technique, timebase=tb), SP300)
    assert decoded.I.tolist() == pytest.approx([2e-6, -7e-6], rel=1e-7)
    assert decoded.Ewe == pytest.approx([4.001, 3.95], rel=1e-7)
    assert decoded.t_s == pytest.approx([3.0, 3.5], abs=tb)


def test_a_six_column_scan_row_on_an_sp300_board_is_a_clear_fault() -> None:
    rows = [[*time_words(3.0, 50e-6), single(4.0), single(2e-6), single(4.001), 0]]
    with pytest.raises(UnknownRowLayout) as fault:
        decode(buffer(rows, T.TECH_PDYN, timebase=50e-6), SP300)
    message = str(fault.value)
    assert "VSCAN (technique 124) process 0" in message
    assert "on board type 2 (SP-300 family)" in message
    assert "6 columns per row, where the SP-300 family's layout has 5" in message


def test_a_float_where_the_cycle_count_belongs_is_a_clear_fault() -> None:
    """Five columns on an SP-300 board but holding Ec, I, Ewe: refused, not misread."""
    rows = [[*time_words(3.0, 50e-6), single(4.0), single(2e-6), single(4.001)]]
    with pytest.raises(UnknownRowLayout, match=r"column 4 should hold the cycle count"):
        decode(buffer(rows, T.TECH_PDYN, timebase=50e-6), SP300)


@pytest.mark.parametrize(
    ("technique", "board", "says"),
    [
        (
            T.TECH_PDYNLIMIT,
            VMP3,
            r"VSCANLIMIT \(technique 158\) process 0 on board type 1 \(VMP3 family\)",
        ),
        (999, SP300, r"a technique this driver does not run \(technique 999\)"),
        (T.TECH_CP, T.BOARD_UNKNOWN, r"board type 0, of no known family"),
    ],
)
def test_rows_of_no_known_layout_are_refused(technique: int, board: int, says: str) -> None:
    rows = [[*time_words(1.0, 50e-6), single(1.0), single(1e-3), 0]]
    with pytest.raises(UnknownRowLayout, match=says):
        decode(buffer(rows, technique, timebase=50e-6), board)


# -- impedance ----------------------------------------------------------------------------------


def test_peis_process_0_is_the_dc_step() -> None:
    tb = 24e-6
    rows = [[*time_words(0.5, tb), single(0.002), single(1e-9)]]  # t_high, t_low, Ewe, I
    decoded = decode(buffer(rows, T.TECH_PEIS, timebase=tb), VMP3)
    assert decoded.frequency_Hz is None
    assert decoded.t_s == pytest.approx([0.5], abs=tb)


@pytest.mark.parametrize(("board", "columns"), [(SP300, 14), (VMP3, 15)])
def test_peis_process_1_is_one_impedance_point_per_row(board: int, columns: int) -> None:
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
        row.append(single(T.IRANGE_AUTO))
    decoded = decode(buffer([row], T.TECH_PEIS, process=1, timebase=24e-6), board)
    assert decoded.frequency_Hz == pytest.approx([1000.0])
    assert decoded.Zre == pytest.approx([20.0], rel=1e-6)
    assert decoded.Zim == pytest.approx([-5.0], rel=1e-6)
    assert decoded.Ewe == pytest.approx([0.0012], rel=1e-7)
    assert decoded.t_s == pytest.approx([12.5])


def test_start_time_is_the_technique_origin_and_nan_means_zero() -> None:
    rows = [[*time_words(1.0, 21e-6), single(3.5), single(2e-3), 0]]
    assert decode(buffer(rows, T.TECH_CP, timebase=21e-6, start=7.25), VMP3).start_s == 7.25
    assert decode(buffer(rows, T.TECH_CP, timebase=21e-6, start=math.nan), VMP3).start_s == 0.0


# -- the easy-biologic VSP-300 capture ------------------------------------------------------------


def _capture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / "easy_biologic_vsp300_peis.json").read_text())
    return data


def _words(values: list[float | int]) -> list[int]:
    return [v if isinstance(v, int) else single(v) for v in values]


def test_captured_vsp300_dc_rows_decode_as_easy_biologic_reads_them() -> None:
    """easy-biologic: time = StartTime + TimeBase·((t_high << 32) + t_low)."""
    capture = _capture()
    rows = capture["process0"]
    tb, start = 24e-6, 0.0
    decoded = decode(
        buffer([_words(r) for r in rows], T.TECH_PEIS, timebase=tb, start=start), SP300
    )
    ticks = np.array([(r[0] << 32) + r[1] for r in rows], dtype=np.float64)
    assert decoded.t_s + decoded.start_s == pytest.approx(start + float(np.float32(tb)) * ticks)
    assert decoded.Ewe.tolist() == [r[2] for r in rows]
    assert decoded.I.tolist() == [r[3] for r in rows]


def test_captured_vsp300_impedance_rows_decode_as_easy_biologic_reads_them() -> None:
    capture = _capture()
    rows = capture["process1"]
    assert {len(r) for r in rows} == {14}
    decoded = decode(
        buffer([_words(r) for r in rows], T.TECH_PEIS, process=1, timebase=24e-6), SP300
    )
    assert decoded.Zre is not None and decoded.Zim is not None
    assert decoded.frequency_Hz is not None
    assert decoded.frequency_Hz.tolist() == [r[0] for r in rows]
    assert decoded.Ewe.tolist() == [r[4] for r in rows]
    assert decoded.I.tolist() == [r[5] for r in rows]
    assert decoded.t_s.tolist() == [r[13] for r in rows]
    modulus = [float(np.float32(r[1])) / float(np.float32(r[2])) for r in rows]
    assert np.hypot(decoded.Zre, decoded.Zim) == pytest.approx(modulus, rel=1e-12)
    assert PHASE_ZWE_UNIT == "rad"
    assert np.arctan2(decoded.Zim, decoded.Zre) == pytest.approx([r[3] for r in rows], abs=1e-12)


def test_captured_vsp300_impedance_rows_are_refused_on_a_vmp3_board() -> None:
    rows = _capture()["process1"]
    with pytest.raises(
        UnknownRowLayout, match="14 columns per row, where the VMP3 family's layout has 15"
    ):
        decode(buffer([_words(r) for r in rows], T.TECH_PEIS, process=1, timebase=24e-6), VMP3)


def test_the_captured_phase_is_in_radians() -> None:
    """|Z| falls 2.6× from 154 kHz to 1 MHz; Bode's gain–phase relation puts a minimum-phase
    impedance's phase near (π/2)·d ln|Z|/d ln f there. In radians the two readings bracket
    it; in degrees they would be fifty times too small for such a fall."""
    rows = _capture()["process1"]
    f = np.array([r[0] for r in rows])
    modulus = np.array([r[1] / r[2] for r in rows])
    phase = np.array([r[3] for r in rows])
    slope = math.log(modulus[0] / modulus[1]) / math.log(f[0] / f[1])
    expected = math.pi / 2 * slope
    assert expected == pytest.approx(-0.80, abs=0.02)
    assert phase[1] > expected > phase[0]  # −0.53 > −0.80 > −1.09 (radians)
    assert abs(math.radians(phase[0])) < abs(expected) / 20
    ce_phase = np.array([r[9] for r in rows])
    assert np.all(np.abs(ce_phase) <= math.pi) and np.max(np.abs(ce_phase)) > 3.1


# -- families and conversion ----------------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(MODELS))
def test_each_emulated_model_is_in_the_family_the_public_decoders_give(model: str) -> None:
    device_code, board, _ = MODELS[model]
    assert FAMILY_OF_DEVICE[device_code] == FAMILY_OF_BOARD[board]


def test_singles_can_go_through_the_library_conversion(
    eclib: EClib, library: EmulatedEClib
) -> None:
    """A channel not in IEEE format: every single through BL_ConvertChannelNumericIntoSingle."""
    rows = [[*time_words(1.0, 21e-6), single(3.5), single(2e-3), 0]]

    def convert(words: np.ndarray) -> np.ndarray:
        board = T.BOARD_ESSENTIAL
        return np.array([eclib.convert_channel_numeric_into_single(int(w), board) for w in words])

    decoded = decode(buffer(rows, T.TECH_CP, timebase=21e-6), VMP3, convert)
    assert decoded.Ewe == pytest.approx([3.5]) and decoded.I.tolist() == pytest.approx([2e-3])
    calls = library.take_calls()
    assert [c.name for c in calls] == ["BL_ConvertChannelNumericIntoSingle"] * 2
    assert calls[0].args == (single(3.5), T.BOARD_ESSENTIAL)


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(
        UnknownRowLayout, match="4 columns per row, where the VMP3 family's layout has 5"
    ):
        decode(buffer([[0, 0, 0, 0]], T.TECH_CP, timebase=21e-6), VMP3)
