"""How the simulated channel runs rest, CC, CV and CC-CV steps."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.drivers.base import SAMPLE_DTYPE, StepProgress
from cyclerctl.plan import EndCondition, Ref, Step

from .helpers import (
    I_1C_A,
    QUIET,
    cc_discharge,
    cccv_charge,
    channel,
    coin_cell,
    eis_step,
    rest,
    run,
    step,
    sweep_step,
    until,
)

NOISE_V = 0.2e-3
NOISE_A = 1e-9


def test_points_are_si_samples_on_the_grid_from_the_step_start() -> None:
    points, status = run(channel(), rest(10.0))
    assert points.dtype == SAMPLE_DTYPE
    assert points["t"].tolist() == [float(n) for n in range(11)]
    assert status.end_reason == "time"
    assert np.all(points["I"] == 0.0)  # open circuit reads exactly zero
    assert np.all(points["Q"] == 0.0)
    assert np.all(points["T"] == pytest.approx(298.15))


def test_cc_holds_the_current_and_counts_charge() -> None:
    points, _ = run(channel(), step("cc", current_A=I_1C_A, ends=until(time=120.0)))
    assert points["I"] == pytest.approx(I_1C_A, abs=6 * NOISE_A)
    assert points["Q"] == pytest.approx(I_1C_A * points["t"])
    assert np.all(np.diff(points["V"]) > -6 * NOISE_V)  # charging: V rises


def test_cccv_switches_to_cv_exactly_at_the_set_voltage_and_decays_to_the_cutoff() -> None:
    points, status = run(channel(), cccv_charge(rate=1.0))
    assert status.end_reason == "limit:current"
    cv = points[np.abs(points["I"] - I_1C_A) > 1e-6]  # from the switch on
    assert cv["V"] == pytest.approx(4.3, abs=6 * NOISE_V)
    # the CC phase ends on the set voltage (no overshoot beyond noise)
    cc = points[: len(points) - len(cv)]
    assert cc["V"].max() <= 4.3 + 6 * NOISE_V
    assert cc["V"][-1] == pytest.approx(4.3, abs=6 * NOISE_V)
    # the CV current decays monotonically (modulo noise) to C/20, and ends right there
    assert np.all(np.diff(cv["I"]) < 6 * NOISE_A)
    assert abs(points["I"][-1]) < I_1C_A / 20
    assert abs(points["I"][-2]) >= I_1C_A / 20 - 6 * NOISE_A
    assert len(cv) > 30  # the RC polarisation makes the hold last, not snap


def test_voltage_above_does_not_end_a_cccv_step() -> None:
    s = step(
        "cccv",
        current_A=I_1C_A,
        voltage_V=4.3,
        ends=until(voltage_above=4.25, current_below=I_1C_A / 20),
    )
    _, status = run(channel(), s)
    assert status.end_reason == "limit:current"


def test_current_below_applies_only_in_the_cv_phase_of_cccv() -> None:
    # a C/10 CC phase is below a C/5 cut-off from the start; it must still reach 4.3 V
    s = step("cccv", current_A=I_1C_A / 10, voltage_V=4.3, ends=until(current_below=I_1C_A / 5))
    points, status = run(channel(coin_cell(**QUIET)), s)
    assert status.end_reason == "limit:current"
    assert points["V"][-1] == pytest.approx(4.3)
    assert points["Q"][-1] > 0.9 * I_1C_A * 3600


def test_cv_holds_the_voltage_and_the_current_relaxes() -> None:
    ch = channel(coin_cell(**QUIET, initial_soc=0.5))
    points, status = run(ch, step("cv", voltage_V=3.9, ends=until(current_below=1e-6)))
    assert status.end_reason == "limit:current"
    assert np.all(points["V"] == 3.9)
    assert points["I"][0] > 0 and np.all(np.diff(points["I"]) < 0)
    assert points["Q"][-1] == pytest.approx(np.trapezoid(points["I"], points["t"]), rel=1e-3)


def test_cv_far_from_the_cell_starts_at_the_channel_current_limit() -> None:
    ch = channel(coin_cell(**QUIET, resistance="5 ohm"))
    points, _ = run(ch, step("cv", voltage_V=4.3, ends=until(time=60.0)))
    assert points["I"][0] == pytest.approx(0.1)  # compliance: 100 mA
    assert points["V"][0] < 4.3
    assert points["V"][-1] == pytest.approx(4.3)


def test_state_carries_over_from_step_to_step() -> None:
    ch = channel(coin_cell(**QUIET))
    run(ch, cccv_charge())
    relaxed, _ = run(ch, rest())
    assert 4.28 < relaxed["V"][-1] < 4.31
    discharge, _ = run(ch, cc_discharge())
    assert discharge["V"][0] < relaxed["V"][-1]  # the IR drop at the start of discharge


def test_eis_and_sweep_steps_need_their_settings_and_a_capable_model() -> None:
    ch = channel()
    for kind in ("eis", "sweep"):
        with pytest.raises(ValueError, match=f"needs its {kind} settings"):
            ch.start_step(step(kind, ends=until(time=1.0)))
    with pytest.raises(ValueError, match=r"model 'ncm622-li' cannot do impedance"):
        ch.start_step(eis_step())
    with pytest.raises(ValueError, match=r"model 'ncm622-li' cannot do sweeps"):
        ch.start_step(sweep_step(1e-3, 4.0))
    with pytest.raises(ValueError, match="cannot run chamber steps"):
        ch.start_step(step("chamber"))


def test_bad_steps_are_refused() -> None:
    ch = channel()
    with pytest.raises(ValueError, match="beyond"):
        ch.start_step(step("cc", current_A=0.5, ends=until(time=1.0)))
    with pytest.raises(ValueError, match="needs a current"):
        ch.start_step(step("cc", ends=until(time=1.0)))
    with pytest.raises(ValueError, match="needs a voltage"):
        ch.start_step(step("cv", ends=until(time=1.0)))
    with pytest.raises(ValueError, match="outside"):
        ch.start_step(step("cv", voltage_V=6.0, ends=until(time=1.0)))
    unbound = step("cc", current_A=None, ends=(EndCondition("time", Ref("t")),))
    with pytest.raises(ValueError, match="bind"):
        ch.start_step(unbound)


def test_resumed_step_continues_its_time_and_charge() -> None:
    ch = channel(coin_cell(**QUIET))
    s = step("cc", current_A=I_1C_A, ends=until(time=600.0, charge=1.0))
    points, status = run(ch, s, StepProgress(elapsed_s=300.0, charge_C=0.05))
    assert points["t"][0] == 300.0
    assert points["Q"][0] == pytest.approx(0.05)
    assert status.end_reason == "time"
    assert points["t"][-1] == 600.0
    assert points["Q"][-1] == pytest.approx(0.05 + 300 * I_1C_A)
    # a resumed step whose charge was nearly passed ends on charge, exactly
    s = step("cc", current_A=I_1C_A, ends=until(time=3600.0, charge=0.1))
    points, status = run(ch, s, StepProgress(elapsed_s=1000.0, charge_C=0.09))
    assert status.end_reason == "limit:charge"
    assert points["Q"][-1] == pytest.approx(0.1, abs=1e-12)
    assert points["t"][-1] == pytest.approx(1000.0 + 0.01 / I_1C_A)


def charging(hours: float = 10.0) -> Step:
    return step("cc", current_A=I_1C_A / 10, ends=until(time=hours * 3600))


def test_stop_ends_the_step_without_a_reason() -> None:
    ch = channel()
    ch.start_step(charging())
    first = ch.read()
    assert not first.ended and len(first.points) > 0
    ch.stop()
    after = ch.read()
    assert after.ended and after.end_reason is None
    assert len(after.points) == 0 or after.points["t"][0] > first.points["t"][-1]
    again = ch.read()
    assert again.ended and len(again.points) == 0


def test_stop_before_the_first_read_still_gives_the_first_point() -> None:
    ch = channel()
    ch.start_step(charging())
    ch.stop()
    samples = ch.read()
    assert samples.ended and samples.end_reason is None
    assert samples.points["t"].tolist() == [0.0]


def test_an_ended_step_reads_empty_and_ended() -> None:
    ch = channel()
    run(ch, rest(5.0))
    samples = ch.read()
    assert samples.ended and samples.end_reason == "time" and len(samples.points) == 0


def test_long_steps_come_in_blocks() -> None:
    ch = channel()
    ch.start_step(rest(10 * 3600.0))
    sizes = []
    while True:
        samples = ch.read()
        sizes.append(len(samples.points))
        if samples.ended:
            break
    assert max(sizes) <= 4096
    assert sum(sizes) == 10 * 3600 + 1
