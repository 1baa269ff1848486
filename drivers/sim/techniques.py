"""The potentiostat techniques a simulated channel runs besides DC steps: sweeps and EIS.

Here they are set up and checked against the channel's ranges, and an EIS step's
impedance points are read out as their time comes; the channel drives the DC side of
both (the sample grid, conditions, charge) as for any step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cyclerctl.plan import Step

from ..base import IMPEDANCE_DTYPE
from . import sweep_path
from .chamber import SimChamber
from .model import FloatArray, SupportsImpedance, SupportsSweep, SupportsTemperature
from .spectrum import Spectrum, with_noise


@dataclass(frozen=True, slots=True)
class Ranges:
    """What the channel can apply and measure."""

    voltage_V: tuple[float, float]
    current_max_A: float
    frequency_Hz: tuple[float, float]

    def voltage(self, step: Step, voltage: float) -> float:
        low, high = self.voltage_V
        if not low <= voltage <= high:
            raise ValueError(
                f"step {step.name!r}: {voltage:g} V is outside this channel's {low:g}–{high:g} V"
            )
        return voltage


@dataclass(slots=True)
class SweepRun:
    """A sweep step's potential programme and the segment it is on."""

    model: SupportsSweep
    path: tuple[sweep_path.Segment, ...]
    index: int
    interval_s: float

    @property
    def segment(self) -> sweep_path.Segment:
        return self.path[self.index]

    def next_segment(self) -> bool:
        """On past a vertex; False when that was the last."""
        if self.index + 1 >= len(self.path):
            return False
        self.index += 1
        return True


@dataclass(slots=True)
class EisRun:
    """An EIS step's spectrum, and the noiseless DC points its V_dc is read from."""

    model: SupportsImpedance
    spectrum: Spectrum
    bias_V: float | None
    trace_t: list[FloatArray] = field(default_factory=list)
    trace_V: list[FloatArray] = field(default_factory=list)

    def remember(self, t: FloatArray, V: FloatArray) -> None:
        self.trace_t.append(t)
        self.trace_V.append(V)

    def measure(
        self,
        t_s: float,
        clock_s: float,
        *,
        chamber: SimChamber | None,
        thermal: SupportsTemperature | None,
        cell_temperature_K: float,
        noise: float,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The points finished by step time ``t_s`` (channel clock ``clock_s``), read at
        the cell's present state; in a chamber each at the temperature it had then."""
        due = self.spectrum.due(t_s)
        frequency, finish = self.spectrum.frequency_Hz[due], self.spectrum.finish_s[due]
        out = np.empty(len(frequency), dtype=IMPEDANCE_DTYPE)
        if not len(frequency):
            return out
        trace_t, trace_V = np.concatenate(self.trace_t), np.concatenate(self.trace_V)
        self.trace_t, self.trace_V = [trace_t[-1:]], [trace_V[-1:]]
        clock = clock_s + (finish - t_s)
        if chamber is not None and thermal is not None:
            true_T = chamber.temperature_at(clock, noise=False)
            impedance = np.empty(len(frequency), dtype=complex)
            for k in range(len(frequency)):
                thermal.set_temperature(float(true_T[k]))
                impedance[k] = self.model.impedance(frequency[k : k + 1])[0]
        else:
            impedance = self.model.impedance(frequency)
        out["f"] = frequency
        out["Zre"], out["Zim"] = with_noise(impedance, noise, rng)
        out["V_dc"] = np.interp(finish, trace_t, trace_V)
        out["T"] = cell_temperature_K if chamber is None else chamber.temperature_at(clock)
        out["t"] = finish
        return out


def incapable(step: Step, model_name: str, what: str) -> ValueError:
    return ValueError(
        f"step {step.name!r}: the simulated cell model {model_name!r} cannot do {what}"
    )


def sweep_run(
    step: Step,
    model: object,
    model_name: str,
    *,
    open_circuit_V: float,
    elapsed_s: float,
    channel_interval_s: float,
    ranges: Ranges,
) -> SweepRun:
    settings = step.sweep
    if settings is None:
        raise ValueError(f"step {step.name!r}: a sweep step needs its sweep settings")
    if not isinstance(model, SupportsSweep):
        raise incapable(step, model_name, "sweeps (LSV/CV)")
    if not settings.scan_rate_V_s > 0 or not settings.vertices_V or settings.cycles < 1:
        raise ValueError(
            f"step {step.name!r}: a sweep needs a scan rate > 0, a vertex and ≥ 1 cycle"
        )
    start = open_circuit_V if settings.start_V is None else settings.start_V
    for voltage in (start, *settings.vertices_V):
        ranges.voltage(step, voltage)
    path = sweep_path.segments(settings, start)
    return SweepRun(
        model,
        path,
        sweep_path.segment_index(path, elapsed_s),
        sweep_path.sample_interval_s(settings, channel_interval_s),
    )


def eis_run(
    step: Step, model: object, model_name: str, *, elapsed_s: float, ranges: Ranges
) -> EisRun:
    """The spectrum to measure; the DC side is held at ``bias_V`` (None: open circuit)."""
    settings = step.eis
    if settings is None:
        raise ValueError(f"step {step.name!r}: an eis step needs its eis settings")
    if not isinstance(model, SupportsImpedance):
        raise incapable(step, model_name, "impedance (EIS)")
    low, high = ranges.frequency_Hz
    for f in (settings.f_start_Hz, settings.f_stop_Hz):
        if not low <= f <= high:
            raise ValueError(
                f"step {step.name!r}: {f:g} Hz is outside this channel's {low:g}–{high:g} Hz"
            )
    if settings.points_per_decade < 1 or settings.averages < 1:
        raise ValueError(f"step {step.name!r}: points per decade and averages must be ≥ 1")
    if settings.mode == "galvanostatic":
        if settings.bias_V is not None:
            raise ValueError(
                f"step {step.name!r}: a galvanostatic EIS runs at zero DC current "
                "(open circuit); a bias voltage needs potentiostatic mode"
            )
        if abs(settings.amplitude) > ranges.current_max_A:
            raise ValueError(
                f"step {step.name!r}: {settings.amplitude * 1e3:g} mA amplitude is beyond "
                f"this channel's ±{ranges.current_max_A * 1e3:g} mA"
            )
    bias = None if settings.bias_V is None else ranges.voltage(step, settings.bias_V)
    return EisRun(model, Spectrum.plan(settings, elapsed_s), bias)
