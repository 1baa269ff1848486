"""A dummy load for the emulated EClib: a resistor, or R in series with R‖C.

What a technician puts on a channel to commission it (BioLogic ships such a dummy cell):
no open-circuit voltage, Ohm's law on a resistor, and an RC arc in an impedance spectrum.
It answers the simulator's :class:`~cyclerctl.drivers.sim.model.CellModel` questions (and
``impedance``, ``sweep``), so an emulated channel runs every technique on it.

Circuit: ``series_ohm`` — then, with ``capacitance_F``, a capacitor C in parallel with
``parallel_ohm`` (None: no parallel resistor, C charges for ever). The one state is the
capacitor's voltage v_c; positive current charges it.

- Constant current I: v_c → I·R_p with τ = R_p·C (R_p = ∞: v_c grows by I·t/C),
  V = I·R_s + v_c.
- Constant voltage V: I = (V − v_c)/R_s, v_c → V·R_p/(R_s + R_p) with
  τ = C·R_s·R_p/(R_s + R_p) (R_p = ∞: v_c → V, τ = R_s·C).
- Ramp V = V₀ + r·t: dv_c/dt = a·V(t) − b·v_c with a = 1/(R_s·C), b = 1/τ: v_c is the
  forced part α + β·t plus (v_c0 − α)·e^(−b·t).
- Z(ω) = R_s + R_p/(1 + jωR_pC) (R_p = ∞: R_s + 1/(jωC); no C: R_s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..sim.model import ComplexArray, FloatArray, Trajectory

ROOM_K = 298.15


@dataclass(slots=True)
class DummyLoad:
    series_ohm: float
    capacitance_F: float | None = None
    parallel_ohm: float | None = None
    voltage_noise_V: float = 10e-6
    current_noise_A: float = 1e-9
    seed: int = 0
    temperature_K: float = ROOM_K
    _v_c: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self.series_ohm > 0 or not math.isfinite(self.series_ohm):
            raise ValueError(f"dummy load: R = {self.series_ohm!r} Ω, expected a finite R > 0")
        if self.capacitance_F is not None and not self.capacitance_F > 0:
            raise ValueError(f"dummy load: C = {self.capacitance_F!r} F, expected C > 0")
        if self.parallel_ohm is not None and (
            self.capacitance_F is None or not self.parallel_ohm > 0
        ):
            raise ValueError("dummy load: a parallel R needs a C beside it, and R > 0")
        if self.voltage_noise_V < 0 or self.current_noise_A < 0:
            raise ValueError("dummy load: noise must be ≥ 0")

    def copy(self) -> DummyLoad:
        """The same dummy, discharged (one per channel)."""
        return DummyLoad(
            self.series_ohm,
            self.capacitance_F,
            self.parallel_ohm,
            self.voltage_noise_V,
            self.current_noise_A,
            self.seed,
            self.temperature_K,
        )

    # -- what the channel asks -----------------------------------------------------------

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        t = np.asarray(t_s, dtype=np.float64)
        c, r_p = self.capacitance_F, self.parallel_ohm
        if c is None:
            v_c = np.zeros(len(t))
        elif r_p is None:
            v_c = self._v_c + current_A * t / c
        else:
            settled = current_A * r_p
            v_c = settled + (self._v_c - settled) * np.exp(-t / (r_p * c))
        return Trajectory(
            t_s=t,
            voltage_V=current_A * self.series_ohm + v_c,
            current_A=np.full(len(t), current_A),
            charge_C=current_A * t,
            state=v_c[:, np.newaxis],
        )

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        return self.sweep(voltage_V, 0.0, t_s)

    def sweep(self, start_V: float, rate_V_s: float, t_s: FloatArray) -> Trajectory:
        t = np.asarray(t_s, dtype=np.float64)
        r_s, c = self.series_ohm, self.capacitance_F
        v = start_V + rate_V_s * t
        v_integral = start_V * t + 0.5 * rate_V_s * t**2
        if c is None:
            v_c = np.zeros(len(t))
            vc_integral = np.zeros(len(t))
        else:
            a = 1.0 / (r_s * c)
            b = a * (1.0 + (0.0 if self.parallel_ohm is None else r_s / self.parallel_ohm))
            beta = a * rate_V_s / b
            alpha = (a * start_V - beta) / b
            free = self._v_c - alpha
            v_c = alpha + beta * t + free * np.exp(-b * t)
            vc_integral = alpha * t + 0.5 * beta * t**2 + free * -np.expm1(-b * t) / b
        return Trajectory(
            t_s=t,
            voltage_V=v,
            current_A=(v - v_c) / r_s,
            charge_C=(v_integral - vc_integral) / r_s,
            state=v_c[:, np.newaxis],
        )

    def commit(self, trajectory: Trajectory, index: int) -> None:
        self._v_c = float(trajectory.state[index, 0])

    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        omega = 2 * np.pi * np.asarray(frequency_Hz, dtype=np.float64)
        z = np.full(len(omega), complex(self.series_ohm), dtype=np.complex128)
        c, r_p = self.capacitance_F, self.parallel_ohm
        if c is not None and r_p is None:
            z += 1.0 / (1j * omega * c)
        elif c is not None and r_p is not None:
            z += r_p / (1.0 + 1j * omega * r_p * c)
        return z
