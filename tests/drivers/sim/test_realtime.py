"""Real-time mode: points follow the wall clock × speed; read() never sleeps."""

from __future__ import annotations

import time

import numpy as np

from cyclerctl.drivers.sim import SimChannel, build_cell_model

from .helpers import I_1C_A, channel, coin_cell, step, until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def realtime_channel(clock: FakeClock, speed: float = 1.0) -> SimChannel:
    model = build_cell_model(coin_cell())
    rng = np.random.default_rng(1)
    return SimChannel(model, name="sim:1", rng=rng, realtime=True, speed=speed, clock=clock)


def test_points_follow_the_clock() -> None:
    clock = FakeClock()
    ch = realtime_channel(clock, speed=2.0)
    ch.start_step(step("cc", current_A=I_1C_A, ends=until(time=100.0)))
    assert ch.read().points["t"].tolist() == [0.0]
    assert len(ch.read().points) == 0  # no time has passed: nothing new, and no sleep
    clock.now += 5.0
    samples = ch.read()
    assert samples.points["t"].tolist() == [float(n) for n in range(1, 11)]
    assert not samples.ended
    clock.now += 100.0
    samples = ch.read()
    assert samples.ended and samples.end_reason == "time"
    assert samples.points["t"][-1] == 100.0


def test_stop_returns_the_points_up_to_now() -> None:
    clock = FakeClock()
    ch = realtime_channel(clock)
    ch.start_step(step("cc", current_A=I_1C_A, ends=until(time=100.0)))
    clock.now += 3.0
    ch.stop()
    clock.now += 50.0
    samples = ch.read()
    assert samples.ended and samples.end_reason is None
    assert samples.points["t"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_the_cell_relaxes_between_steps_in_real_time() -> None:
    clock = FakeClock()
    ch = realtime_channel(clock)
    ch.start_step(step("cc", current_A=I_1C_A, ends=until(time=600.0)))
    clock.now += 600.0
    end_of_charge = ch.read().points["V"][-1]
    clock.now += 1800.0  # half an hour on the shelf before the next step
    ch.start_step(step("rest", ends=until(time=1.0)))
    assert ch.read().points["V"][0] < end_of_charge - 0.003  # I·R_s + V_rc have gone


def test_fast_real_time_tracks_the_wall_clock() -> None:
    ch = channel(realtime=True, speed=1000.0)
    started = time.monotonic()
    ch.start_step(step("cc", current_A=I_1C_A, ends=until(time=3600.0)))
    seen: list[float] = []
    for _ in range(5):
        time.sleep(0.01)
        points = ch.read().points
        elapsed_sim = (time.monotonic() - started) * 1000.0
        if len(points):
            assert points["t"][-1] <= elapsed_sim + 1.0
            seen.extend(points["t"].tolist())
    assert seen and seen[0] == 0.0
    assert np.all(np.diff(seen) == 1.0)  # every grid point, once, in order
    assert seen[-1] >= 40.0  # 50 ms of wall clock at ×1000 is ≥ 40 s of cell time


def test_a_new_step_ends_the_one_before_at_the_time_it_was_replaced() -> None:
    clock = FakeClock()
    ch = realtime_channel(clock)
    ch.start_step(step("cc", current_A=I_1C_A, ends=until(time=3600.0)))
    clock.now += 600.0  # ten minutes of charge the engine never read
    ch.start_step(step("rest", ends=until(time=1.0)))
    after_charge = ch.read().points["V"][0]
    fresh = realtime_channel(FakeClock())
    fresh.start_step(step("rest", ends=until(time=1.0)))
    assert after_charge > fresh.read().points["V"][0] + 0.05  # the charge really happened
