"""EIS steps on the simulated channel: the spectrum, its timing, noise and the DC points."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.drivers.base import IMPEDANCE_DTYPE, SAMPLE_DTYPE, StepProgress
from cyclerctl.drivers.sim import SimChannel, SimInstrument, build_cell_model
from cyclerctl.drivers.sim.blocking import BlockingCell
from cyclerctl.drivers.sim.spectrum import point_durations_s

from .helpers import (
    MEMBRANE_M,
    SS_AREA_M2,
    blocking_cell,
    channel,
    eis_step,
    li_ss_cell,
    rest,
    run,
    run_eis,
    until,
)
from .test_realtime import FakeClock


def blocking_channel(**sim: object) -> SimChannel:
    ch = SimInstrument([blocking_cell(**sim)]).channels[0]
    return ch


def bulk_resistance(ch: SimChannel) -> float:
    assert isinstance(ch.model, BlockingCell)
    return ch.model.bulk_resistance_ohm


def test_a_spectrum_has_log_spaced_frequencies_both_ends_included() -> None:
    ch = blocking_channel()
    points, spectrum, status, reads = run_eis(ch, eis_step(1e5, 0.1, points_per_decade=10))
    assert spectrum.dtype == IMPEDANCE_DTYPE and points.dtype == SAMPLE_DTYPE
    assert len(spectrum) == 61
    assert spectrum["f"][0] == 1e5 and spectrum["f"][-1] == pytest.approx(0.1)
    assert np.diff(np.log10(spectrum["f"])) == pytest.approx(-0.1)
    assert status.ended and status.end_reason == "done"
    assert reads == 1  # in virtual time the whole spectrum comes in one read
    # 7 points per decade over 2.5 decades: round(17.5) + 1
    _, short, _, _ = run_eis(ch, eis_step(1e3, 10 ** 0.5, points_per_decade=7))
    assert len(short) == 19


def test_the_spectrum_of_a_blocking_cell() -> None:
    ch = blocking_channel()
    _, z, _, _ = run_eis(ch, eis_step(1e5, 0.1))
    r_b = bulk_resistance(ch)
    assert np.all(z["Zim"] < 0)
    assert z["Zre"][0] == pytest.approx(r_b, rel=0.01)  # high-frequency limit
    assert -z["Zim"][-1] > 5 * z["Zre"][-1]  # low frequency: capacitive
    assert np.all(np.diff(-z["Zim"]) > 0)  # growing towards low f
    assert np.all(z["V_dc"] == pytest.approx(0.0, abs=1e-9))  # at its OCV
    assert np.all(z["T"] == pytest.approx(303.15))  # the default: its reference temperature


def test_a_fit_of_the_cpe_line_recovers_the_conductivity_within_2_percent() -> None:
    # R + CPE is a straight line in the Nyquist plane: Z' = R_b + cot(nπ/2)·(−Z'')
    ch = blocking_channel()
    _, z, _, _ = run_eis(ch, eis_step(1e5, 0.1))
    high = z[z["f"] >= 10.0]
    slope, intercept = np.polyfit(-high["Zim"], high["Zre"], 1)
    sigma = MEMBRANE_M / (intercept * SS_AREA_M2)
    assert isinstance(ch.model, BlockingCell)
    assert sigma == pytest.approx(ch.model.conductivity_S_m, rel=0.02)
    assert slope == pytest.approx(1 / np.tan(0.9 * np.pi / 2), rel=0.05)


def test_each_point_takes_its_periods_and_the_step_ends_with_the_last() -> None:
    ch = blocking_channel()
    step = eis_step(1e5, 0.1, averages=2)
    points, z, _, _ = run_eis(ch, step)
    assert step.eis is not None
    durations = point_durations_s(step.eis, z["f"])
    assert z["t"] == pytest.approx(np.cumsum(durations))
    assert durations[-1] == pytest.approx(2 * 10.0 + 0.05)  # 2 periods of 0.1 Hz + settling
    assert durations[0] == pytest.approx(2 * 0.05 + 0.05)  # never under 50 ms per average
    assert 90 < z["t"][-1] < 120  # about a minute and a half at 2 averages
    assert points["t"][-1] == pytest.approx(z["t"][-1])
    _, once, _, _ = run_eis(ch, eis_step(1e5, 0.1))
    assert 45 < once["t"][-1] < 65  # 100 kHz → 100 mHz, 1 average: about a minute


def test_ordinary_points_continue_at_open_circuit_during_the_spectrum() -> None:
    ch = blocking_channel(noise=0, current_noise=0)
    points, _, _, _ = run_eis(ch, eis_step(1e5, 0.1))
    assert points["t"][:-1].tolist() == [float(n) for n in range(len(points) - 1)]
    assert np.all(points["V"] == 0.0)
    assert np.all(points["I"] == 0.0)
    assert np.all(points["Q"] == 0.0)


def test_the_cell_state_is_not_moved_by_the_small_signal() -> None:
    ch = channel(li_ss_cell(noise=0))
    before, _ = run(ch, rest(10.0))
    run_eis(ch, eis_step(1e5, 1.0))
    after, _ = run(ch, rest(10.0))
    assert after["V"][0] == before["V"][-1] == 2.9


def test_noise_is_seeded_repeatable_and_relative() -> None:
    def spectrum(seed: int, **sim: object) -> np.ndarray:
        ch = SimInstrument([blocking_cell(**sim)], seed=seed).channels[0]
        return run_eis(ch, eis_step(1e6, 1e-3, points_per_decade=20))[1]

    a, b, c = spectrum(1), spectrum(1), spectrum(2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a["Zre"], c["Zre"])
    exact = spectrum(1, eis_noise=0)
    model = build_cell_model(blocking_cell())
    assert isinstance(model, BlockingCell)
    truth = model.impedance(exact["f"])
    assert exact["Zre"] + 1j * exact["Zim"] == pytest.approx(truth, rel=1e-12)
    relative = np.abs(a["Zre"] + 1j * a["Zim"]) / np.abs(truth) - 1
    assert 0.0014 < relative.std() < 0.0027  # 0.2 %, over 181 points
    phase = np.angle(a["Zre"] + 1j * a["Zim"]) - np.angle(truth)
    assert 0.0014 < phase.std() < 0.0027
    louder = spectrum(1, eis_noise="1 %")
    relative = np.abs(louder["Zre"] + 1j * louder["Zim"]) / np.abs(truth) - 1
    assert 0.007 < relative.std() < 0.013


def test_a_time_condition_cuts_the_spectrum_short() -> None:
    ch = blocking_channel()
    points, z, status, _ = run_eis(ch, eis_step(1e5, 0.1, ends=until(time=20.0)))
    assert status.end_reason == "time"
    assert points["t"][-1] == 20.0
    assert 0 < len(z) < 61 and z["t"][-1] <= 20.0


def test_at_a_bias_the_cell_is_held_there() -> None:
    ch = channel(li_ss_cell(noise=0))
    points, z, status, _ = run_eis(ch, eis_step(1e5, 1.0, bias_V=4.6))
    assert status.end_reason == "done"
    assert np.all(points["V"] == 4.6)
    assert np.all(z["V_dc"] == 4.6)
    assert points["I"].mean() > 1e-5  # oxidation current flows at 4.6 V
    # the charge-transfer resistance closes the low-frequency arc
    rest_ch = channel(li_ss_cell(noise=0))
    _, at_ocv, _, _ = run_eis(rest_ch, eis_step(1e5, 1.0))
    assert abs(z["Zim"][-1]) < abs(at_ocv["Zim"][-1]) / 10


def test_galvanostatic_eis_runs_at_open_circuit() -> None:
    ch = blocking_channel()
    step = eis_step(1e4, 1.0, mode="galvanostatic", amplitude=1e-5)
    _, z, status, _ = run_eis(ch, step)
    assert status.end_reason == "done" and len(z) == 41
    with pytest.raises(ValueError, match="galvanostatic EIS runs at zero DC current"):
        ch.start_step(eis_step(mode="galvanostatic", amplitude=1e-5, bias_V=0.1))


def test_bad_eis_steps_are_refused() -> None:
    ch = blocking_channel()
    with pytest.raises(ValueError, match="outside this channel's"):
        ch.start_step(eis_step(1e7, 1.0))
    with pytest.raises(ValueError, match="outside this channel's"):
        ch.start_step(eis_step(1e3, 1e-4))
    with pytest.raises(ValueError, match="outside this channel's"):
        ch.start_step(eis_step(bias_V=7.0))


def test_other_steps_carry_no_impedance() -> None:
    ch = blocking_channel()
    ch.start_step(rest(5.0))
    assert ch.read().impedance is None


def test_a_resumed_spectrum_goes_on_from_its_elapsed_time() -> None:
    ch = blocking_channel()
    step = eis_step(1e5, 0.1)
    _, full, _, _ = run_eis(ch, step)
    ch.start_step(step, StepProgress(elapsed_s=30.0))
    rest_of_it = []
    while True:
        samples = ch.read()
        assert samples.impedance is not None
        rest_of_it.append(samples.impedance)
        if samples.ended:
            break
    resumed = np.concatenate(rest_of_it)
    assert resumed["f"].tolist() == full["f"][full["t"] > 30.0].tolist()


def test_in_real_time_points_come_as_their_time_comes() -> None:
    clock = FakeClock()
    model = build_cell_model(blocking_cell())
    ch = SimChannel(
        model, name="sim:1", rng=np.random.default_rng(1), realtime=True, clock=clock
    )
    ch.start_step(eis_step(1e5, 0.1))
    first = ch.read()
    assert first.impedance is not None and len(first.impedance) == 0
    clock.now += 2.0
    early = ch.read().impedance
    assert early is not None and 0 < len(early) < 61 and early["t"][-1] <= 2.0 + 1e-9
    clock.now += 120.0
    late = ch.read()
    assert late.ended and late.end_reason == "done"
    assert late.impedance is not None
    assert len(early) + len(late.impedance) == 61
