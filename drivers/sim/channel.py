"""One simulated channel: runs rest, CC, CV, CC-CV, EIS and sweep steps on a cell model.

Points come on a fixed grid of step time (``t_start + n·sample_interval_s``, the first at
the instant the step starts) plus, where the step changes, one point exactly at the change:
the CC→CV switch of a CC-CV step, and the step's end when a voltage, time or charge
condition is crossed between two grid points. Charge and capacity counts are then exact,
not rounded to the sample interval.

Sweeps (LSV, CV; see ``sweep_path``) sample on their own finer grid when 1 mV of sweep
takes less than the sample interval, with a point exactly at every vertex. An EIS step
(see ``spectrum``) holds the cell at its OCV, or at the bias, while the spectrum is
measured: ordinary points continue on the grid, and each impedance point is delivered in
``Samples.impedance`` once the step time at which it is finished has been simulated; the
step ends "done" with the last frequency. The cell's state is not moved by the small
signal. Both need the model to support them (``model.SupportsImpedance``,
``model.SupportsSweep``).

A chamber (``chamber.SimChamber``) fills the T column of every point with its reading at
that point's time on this channel's clock, and before each read and step sets the cell's
temperature to the chamber's when the model follows temperature
(``model.SupportsTemperature``). Without one, T is the model's own temperature.

Virtual time (the default): each :meth:`SimChannel.read` simulates up to an hour of the
step (at most 4096 points) as fast as numpy allows. Real time: each read simulates up to
``(wall-clock seconds since the step started) × speed``, and never sleeps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from cyclerctl.plan import ConditionKind, EndCondition, Step

from ..base import (
    IMPEDANCE_DTYPE,
    SAMPLE_DTYPE,
    Capabilities,
    Samples,
    StepProgress,
    check_runnable,
)
from .chamber import SimChamber
from .conditions import StepWatch, find_crossing, si
from .model import CellModel, FloatArray, SupportsTemperature, Trajectory
from .spectrum import DEFAULT_EIS_NOISE
from .techniques import EisRun, Ranges, SweepRun, eis_run, sweep_run

CURRENT_MAX_A = 0.1
#: A potentiostat's channel goes both ways: a symmetric cell (SS‖SS, Li‖Li) sits at 0 V.
VOLTAGE_RANGE_V = (-5.0, 5.0)
FREQUENCY_RANGE_HZ = (1e-3, 1e6)
STEP_KINDS = frozenset({"rest", "cc", "cv", "cccv", "eis", "sweep"})
RANGES = Ranges(VOLTAGE_RANGE_V, CURRENT_MAX_A, FREQUENCY_RANGE_HZ)
ALL_CONDITIONS: frozenset[str] = frozenset(get_args(ConditionKind))
#: Standing in for a host-sequenced instrument, a read returns at most this many points: the
#: cell lives on past the point where the host ends a step only for one such poll, as a real
#: polled instrument does, not for a whole virtual-time block.
HOST_POLL_POINTS = 10
BLOCK_S = 3600.0
MAX_POINTS = 4096
#: A CV hold usually ends within minutes: simulate it in growing pieces, not whole hours.
FIRST_CV_POINTS = 32

Mode = Literal["current", "voltage", "sweep"]


@dataclass(slots=True)
class _Point:
    t: float
    V: float
    current: float
    Q: float


@dataclass(slots=True)
class _StepRun:
    """The step being executed and where it is."""

    step: Step
    watch: StepWatch
    mode: Mode
    setpoint: float  # A or V (sweep: unused)
    switch_V: float | None  # CC phase of a CC-CV step: where CV takes over
    t_start: float  # step time when it was (re)started
    t: float  # step time of the model's present state
    q: float  # step charge at t
    time_limit: float
    wall_start: float
    interval: float  # the sample grid's spacing
    boundary: float = math.inf  # a sweep's next vertex, an EIS step's last frequency
    sweep: SweepRun | None = None
    eis: EisRun | None = None
    next_n: int = 0  # next grid point: t_start + next_n · interval
    last: _Point | None = None  # the last point returned (noiseless)
    cv_points: int = FIRST_CV_POINTS
    stop_at: float | None = None
    ended: bool = False
    end_reason: str | None = None


class SimChannel:
    """A channel of the simulated cycler, wired to one simulated cell."""

    def __init__(
        self,
        model: CellModel,
        *,
        name: str,
        rng: np.random.Generator,
        sample_interval_s: float = 1.0,
        realtime: bool = False,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        block_s: float = BLOCK_S,
        max_points: int = MAX_POINTS,
        native_end_conditions: frozenset[str] | None = None,
        chamber: SimChamber | None = None,
        eis_noise: float = DEFAULT_EIS_NOISE,
        model_name: str | None = None,
    ) -> None:
        if not sample_interval_s > 0 or not speed > 0 or not block_s > 0 or max_points < 1:
            raise ValueError("sample interval, speed and block size must be > 0")
        if not eis_noise >= 0:
            raise ValueError("eis_noise must be ≥ 0")
        self.model = model
        self.model_name = model_name or type(model).__name__
        self.chamber = chamber
        self._thermal = model if isinstance(model, SupportsTemperature) else None
        self._eis_noise = eis_noise
        self._name = name
        self._rng = rng
        self._dt = sample_interval_s
        self._realtime = realtime
        self._speed = speed
        self._clock = clock
        self._block_s = block_s
        host_sequenced = native_end_conditions is not None and not (
            native_end_conditions >= ALL_CONDITIONS
        )
        self._max_points = min(max_points, HOST_POLL_POINTS) if host_sequenced else max_points
        self._capabilities = Capabilities(
            voltage_range_V=VOLTAGE_RANGE_V,
            current_max_A=CURRENT_MAX_A,
            step_kinds=STEP_KINDS,
            native_end_conditions=ALL_CONDITIONS
            if native_end_conditions is None
            else native_end_conditions & ALL_CONDITIONS,
            eis=True,
            frequency_range_Hz=FREQUENCY_RANGE_HZ,
            virtual_time=not realtime,
        )
        self._run: _StepRun | None = None
        self._idle_since = clock()
        #: simulated seconds the cell has lived through on this channel
        self.clock_s = 0.0

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- Channel ---------------------------------------------------------------------------

    def start_step(self, step: Step, progress: StepProgress | None = None) -> None:
        check_runnable(step, STEP_KINDS, who="the simulator")
        progress = progress or StepProgress()
        if self._run is not None and not self._run.ended:
            # a new step ends the one before: the cell lives through it up to now
            self.stop()
            while not self.read().ended:
                pass
        self._rest_while_idle()
        self._follow_chamber()
        sweep, eis, interval, boundary = None, None, self._dt, math.inf
        mode: Mode
        if step.kind == "sweep":
            sweep = sweep_run(
                step, self.model, self.model_name, open_circuit_V=self._open_circuit_V(),
                elapsed_s=progress.elapsed_s, channel_interval_s=self._dt, ranges=RANGES,
            )
            mode, setpoint, switch_V = "sweep", 0.0, None
            interval, boundary = sweep.interval_s, sweep.segment.t1_s
        elif step.kind == "eis":
            eis = eis_run(
                step, self.model, self.model_name, elapsed_s=progress.elapsed_s, ranges=RANGES
            )
            mode, setpoint, switch_V = "current", 0.0, None  # at open circuit …
            if eis.bias_V is not None:
                mode, setpoint = "voltage", eis.bias_V  # … or held at the bias
            boundary = eis.spectrum.end_s
        else:
            mode, setpoint, switch_V = self._control(step)
        # conditions the channel is not to end on itself are left to the host (the engine)
        native = self._capabilities.native_end_conditions
        ends = tuple(c for c in _conditions(step) if c.kind in native)
        self._run = _StepRun(
            step=step,
            watch=StepWatch(ends, progress.elapsed_s),
            mode=mode,
            setpoint=setpoint,
            switch_V=switch_V,
            t_start=progress.elapsed_s,
            t=progress.elapsed_s,
            q=progress.charge_C,
            time_limit=min((si(c.value) for c in ends if c.kind == "time"), default=math.inf),
            wall_start=self._clock(),
            interval=interval,
            boundary=boundary,
            sweep=sweep,
            eis=eis,
        )

    def read(self) -> Samples:
        run = self._run
        if run is None:
            return Samples(ended=True)
        if run.ended:
            return Samples(ended=True, end_reason=run.end_reason, impedance=_no_impedance(run))
        self._follow_chamber()
        horizon = self._horizon(run)
        pieces: list[np.ndarray] = []
        budget = self._max_points
        while not run.ended and budget > 0:
            piece = self._advance(run, horizon, budget)
            if piece is None:
                break
            pieces.append(piece)
            budget -= len(piece)
        if not run.ended and run.stop_at is not None and self._next_grid_t(run) > run.stop_at:
            self._end(run, None)  # the engine records why it stopped the step
        points = pieces[0] if len(pieces) == 1 else np.concatenate(pieces or [_empty()])
        impedance = None
        if run.eis is not None:
            impedance = run.eis.measure(
                run.t, self.clock_s, chamber=self.chamber, thermal=self._thermal,
                cell_temperature_K=self.model.temperature_K, noise=self._eis_noise,
                rng=self._rng,
            )
        return Samples(points, ended=run.ended, end_reason=run.end_reason, impedance=impedance)

    def stop(self) -> None:
        run = self._run
        if run is None or run.ended:
            return
        run.stop_at = self._horizon(run) if self._realtime else run.t

    # -- the step as set up ---------------------------------------------------------------

    def _control(self, step: Step) -> tuple[Mode, float, float | None]:
        if step.kind == "rest":
            return "current", 0.0, None
        if step.kind == "cc":
            return "current", self._current(step), None
        voltage = self._voltage(step)
        if step.kind == "cccv":
            return "current", self._current(step), voltage
        # a CV hold far from the cell's voltage starts current-limited, as a real channel does
        current = float(self.model.hold_voltage(voltage, np.zeros(1)).current_A[0])
        if abs(current) > CURRENT_MAX_A:
            return "current", math.copysign(CURRENT_MAX_A, current), voltage
        return "voltage", voltage, None

    def _current(self, step: Step) -> float:
        if step.current_A is None:
            raise ValueError(f"step {step.name!r}: a {step.kind} step needs a current")
        current = si(step.current_A)
        if abs(current) > CURRENT_MAX_A:
            raise ValueError(
                f"step {step.name!r}: {current * 1e3:g} mA is beyond this channel's "
                f"±{CURRENT_MAX_A * 1e3:g} mA"
            )
        return current

    def _voltage(self, step: Step) -> float:
        if step.voltage_V is None:
            raise ValueError(f"step {step.name!r}: a {step.kind} step needs a voltage")
        return RANGES.voltage(step, si(step.voltage_V))

    def _open_circuit_V(self) -> float:
        return float(self.model.hold_current(0.0, np.zeros(1)).voltage_V[0])

    def _follow_chamber(self) -> None:
        """The cell takes the chamber's temperature now, and keeps it for this read."""
        if self.chamber is not None and self._thermal is not None:
            now = self.chamber.temperature_at(np.array([self.clock_s]), noise=False)
            self._thermal.set_temperature(float(now[0]))

    def _rest_while_idle(self) -> None:
        """In real time the cell relaxes between steps; in virtual time no time passes."""
        now = self._clock()
        if self._realtime and (self._run is None or self._run.ended):
            gap = (now - self._idle_since) * self._speed
            if gap > 0:
                self.model.commit(self.model.hold_current(0.0, np.array([gap])), 0)
                self.clock_s += gap
        self._idle_since = now

    # -- simulating ------------------------------------------------------------------------

    def _horizon(self, run: _StepRun) -> float:
        if self._realtime:
            horizon = run.t_start + (self._clock() - run.wall_start) * self._speed
        else:
            horizon = run.t + self._block_s
        return horizon if run.stop_at is None else min(horizon, run.stop_at)

    def _next_grid_t(self, run: _StepRun) -> float:
        return run.t_start + run.next_n * run.interval

    def _advance(self, run: _StepRun, horizon: float, budget: int) -> np.ndarray | None:
        """Simulate one piece of the step up to ``horizon``; None when there is nothing to do."""
        end = min(run.time_limit, run.boundary)
        limit = min(horizon, end)
        if run.last is None:
            limit = max(limit, run.t_start)  # a started step always has its first point
        dt = run.interval
        n_stop = math.floor((limit - run.t_start) / dt + 1e-9) + 1
        cap = min(budget, run.cv_points) if run.mode == "voltage" else budget
        capped = n_stop - run.next_n > cap
        n_stop = min(n_stop, run.next_n + cap)
        times = run.t_start + dt * np.arange(run.next_n, n_stop, dtype=float)
        after = float(times[-1]) if times.size else run.t
        if not capped and end <= horizon and end > after + 1e-9:
            times = np.append(times, end)  # exactly on the step's time, a vertex, the end
        if times.size == 0:
            return None
        trajectory = self._hold(run, times - run.t)
        voltage = trajectory.voltage_V
        charge = run.q + trajectory.charge_C
        met = run.watch.first_met(
            times, voltage, trajectory.current_A, charge, cc_phase=run.switch_V is not None
        )
        switch = self._switch_index(run, voltage)
        if met is None and switch is None:
            run.next_n = max(n_stop, run.next_n)
            if run.mode == "voltage":
                run.cv_points = min(2 * run.cv_points, self._max_points)
            points = self._accept(run, trajectory, times, charge, len(times))
            if run.t >= run.boundary - 1e-9:
                self._reach_boundary(run)
            return points
        k = min(i for i in (None if met is None else met[0], switch) if i is not None)
        conditions = met[1] if met is not None and met[0] == k else ()
        pieces = [self._accept(run, trajectory, times, charge, k)] if k > 0 else []
        before = run.last
        if before is None:  # the step's very first point already decides
            if conditions:
                pieces.append(self._accept(run, trajectory, times, charge, 1))
                self._end(run, conditions[0].reason)
            else:
                self._switch_to_cv(run)
            return np.concatenate(pieces) if pieces else _empty()
        # the event lies between the last point and point k: find it exactly
        span = float(times[k]) - before.t
        events: list[tuple[float, int, EndCondition | None]] = [
            (self._delta(run, c, before, span, voltage[k], charge[k]), 0, c) for c in conditions
        ]
        if switch == k:
            events.append((self._delta_to_cv(run, before, span, voltage[k]), 1, None))
        delta, _, condition = min(events, key=lambda e: (e[0], e[1]))
        tail = self._hold(run, np.array([delta]))
        pieces.append(
            self._accept(run, tail, np.array([before.t + delta]), before.Q + tail.charge_C, 1)
        )
        if condition is None:
            self._switch_to_cv(run)
        else:
            self._end(run, condition.reason)
        return np.concatenate(pieces)

    def _hold(self, run: _StepRun, t: FloatArray) -> Trajectory:
        if run.mode == "current":
            return self.model.hold_current(run.setpoint, t)
        if run.mode == "voltage":
            return self.model.hold_voltage(run.setpoint, t)
        assert run.sweep is not None
        segment = run.sweep.segment
        return run.sweep.model.sweep(segment.voltage_at(run.t), segment.rate_V_s, t)

    def _reach_boundary(self, run: _StepRun) -> None:
        """At a sweep's vertex: on to the next segment, or done; an EIS step: done."""
        if run.sweep is None or not run.sweep.next_segment():
            self._end(run, "done")
            return
        run.boundary = run.sweep.segment.t1_s
        run.next_n = math.floor((run.t - run.t_start) / run.interval + 1e-9) + 1

    def _switch_index(self, run: _StepRun, voltage: FloatArray) -> int | None:
        if run.switch_V is None or run.setpoint == 0:
            return None
        above = np.greater_equal if run.setpoint > 0 else np.less_equal
        reached = above(voltage, run.switch_V)
        index = int(np.argmax(reached))
        return index if reached[index] else None

    def _switch_to_cv(self, run: _StepRun) -> None:
        assert run.switch_V is not None
        run.mode, run.setpoint, run.switch_V = "voltage", run.switch_V, None
        run.cv_points = FIRST_CV_POINTS
        if run.last is not None:  # the grid goes on after the switch point
            run.next_n = math.floor((run.t - run.t_start) / run.interval + 1e-9) + 1

    def _delta(
        self, run: _StepRun, condition: EndCondition, before: _Point, span: float,
        V_after: float, Q_after: float,
    ) -> float:
        """Seconds after ``before`` at which ``condition`` is first met (≤ span)."""
        value = si(condition.value)
        kind = condition.kind
        if kind == "time":
            return min(max(value - before.t, 0.0), span)
        if kind in ("voltage_above", "voltage_below") and run.mode != "voltage":
            sign = 1.0 if kind == "voltage_above" else -1.0
            return self._crossing(
                run, lambda tr: sign * (float(tr.voltage_V[0]) - value),
                sign * (before.V - value), sign * (V_after - value), span,
            )
        if kind == "charge":
            if run.mode == "current" and run.setpoint != 0:
                return min(max((value - abs(before.Q)) / abs(run.setpoint), 0.0), span)
            return self._crossing(
                run, lambda tr: abs(before.Q + float(tr.charge_C[0])) - value,
                abs(before.Q) - value, abs(Q_after) - value, span,
            )
        return span  # met at the sample itself: current, dV/dt, short

    def _delta_to_cv(self, run: _StepRun, before: _Point, span: float, V_after: float) -> float:
        assert run.switch_V is not None
        target, sign = run.switch_V, (1.0 if run.setpoint > 0 else -1.0)
        return self._crossing(
            run, lambda tr: sign * (float(tr.voltage_V[0]) - target),
            sign * (before.V - target), sign * (V_after - target), span,
        )

    def _crossing(
        self, run: _StepRun, f: Callable[[Trajectory], float],
        f_before: float, f_after: float, span: float,
    ) -> float:
        if f_before >= 0:
            return 0.0
        return find_crossing(lambda d: f(self._hold(run, np.array([d]))), span, f_before, f_after)

    def _accept(
        self, run: _StepRun, trajectory: Trajectory, times: FloatArray, Q: FloatArray, upto: int
    ) -> np.ndarray:
        """Points [0, upto) really happen: move the cell there and return them, with noise."""
        last = upto - 1
        self.model.commit(trajectory, last)
        clock_before, t_before = self.clock_s, run.t
        self.clock_s += float(times[last]) - run.t
        run.t, run.q = float(times[last]), float(Q[last])
        voltage, current = trajectory.voltage_V[:upto], trajectory.current_A[:upto]
        points = np.empty(upto, dtype=SAMPLE_DTYPE)
        points["t"] = times[:upto]
        points["V"] = voltage + self.model.voltage_noise_V * self._rng.standard_normal(upto)
        if run.step.kind == "rest":
            points["I"] = current  # open circuit: the channel reads exactly zero
        else:
            points["I"] = current + self.model.current_noise_A * self._rng.standard_normal(upto)
        points["Q"] = Q[:upto]
        if self.chamber is None:
            points["T"] = self.model.temperature_K
        else:
            points["T"] = self.chamber.temperature_at(clock_before + (times[:upto] - t_before))
        run.last = _Point(run.t, float(voltage[last]), float(current[last]), run.q)
        run.watch.remember(times[:upto], voltage)
        if run.eis is not None:
            run.eis.remember(times[:upto], voltage)
        return points

    def _end(self, run: _StepRun, reason: str | None) -> None:
        run.ended, run.end_reason = True, reason
        self._idle_since = self._clock()


def _conditions(step: Step) -> tuple[EndCondition, ...]:
    """The conditions this step ends on; in CC-CV, reaching the CV voltage is the switch."""
    if step.kind != "cccv":
        return step.ends
    ignored = "voltage_above" if si(step.current_A or 0.0) > 0 else "voltage_below"
    return tuple(c for c in step.ends if c.kind != ignored)


def _empty() -> np.ndarray:
    return np.empty(0, dtype=SAMPLE_DTYPE)


def _no_impedance(run: _StepRun) -> np.ndarray | None:
    return None if run.eis is None else np.empty(0, dtype=IMPEDANCE_DTYPE)
