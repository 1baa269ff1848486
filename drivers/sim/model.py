"""What the simulated channel needs from a cell model.

A model answers two questions about its cell, "what voltage if I hold this current?" and
"what current if I hold this voltage?", for a whole array of future times at once, without
changing its state. The channel then decides where the step really goes (a cut-off crossed
between two samples, the CC→CV switch) and commits the model to one of those points.
Keeping the questions pure is what lets the channel locate a crossing exactly and still
compute hours of cycling as a few numpy expressions.

Some models can do more; the channel asks with ``isinstance`` against these capabilities:
:class:`SupportsImpedance` (``eis`` steps), :class:`SupportsSweep` (``sweep`` steps: LSV and
CV) and :class:`SupportsTemperature` (a chamber drives the cell's temperature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]


@dataclass(frozen=True, slots=True)
class Trajectory:
    """The noiseless cell response at times ``t_s`` after the model's present state.

    ``state`` is the model's own record of itself at each of those times (one row per
    time, columns of the model's choosing); :meth:`CellModel.commit` takes a row back.
    """

    t_s: FloatArray
    voltage_V: FloatArray
    current_A: FloatArray
    charge_C: FloatArray  # charge passed since the present state, signed
    state: FloatArray

    def __len__(self) -> int:
        return len(self.t_s)


class CellModel(Protocol):
    """A simulated cell; positive current charges its working electrode."""

    @property
    def temperature_K(self) -> float: ...

    @property
    def voltage_noise_V(self) -> float:
        """Standard deviation of the Gaussian noise on measured V."""
        ...

    @property
    def current_noise_A(self) -> float:
        """Standard deviation of the Gaussian noise on measured I while current flows."""
        ...

    @property
    def seed(self) -> int:
        """The noise seed the cell file asks for (or the model's fixed default)."""
        ...

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        """The response to a constant current, at times ``t_s`` ≥ 0 (increasing) from now."""
        ...

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        """The response to a constant terminal voltage, at times ``t_s`` ≥ 0 from now."""
        ...

    def commit(self, trajectory: Trajectory, index: int) -> None:
        """Move the cell to where ``trajectory`` (computed from the present state) is at
        ``index``: the simulated time up to there has now really happened."""
        ...


@runtime_checkable
class SupportsImpedance(Protocol):
    def impedance(self, frequency_Hz: FloatArray) -> ComplexArray:
        """Small-signal Z = Z' + jZ'' in ohm (Z'' < 0 for capacitive) at the present state
        and temperature."""
        ...


@runtime_checkable
class SupportsTemperature(Protocol):
    def set_temperature(self, temperature_K: float) -> None:
        """The cell's temperature from now on (a chamber drives it); transport follows it."""
        ...


@runtime_checkable
class SupportsSweep(Protocol):
    def sweep(self, start_V: float, rate_V_s: float, t_s: FloatArray) -> Trajectory:
        """Response to a linear potential ramp V = start_V + rate_V_s·t, at times t_s ≥ 0
        from now (pure, like hold_*)."""
        ...


class NoiseSource(Protocol):
    """The parameters a model's noise and seed come from."""

    @property
    def voltage_noise_V(self) -> float: ...

    @property
    def current_noise_A(self) -> float: ...

    @property
    def seed(self) -> int: ...


class CellReadings:
    """The read-only half of :class:`CellModel` that every model answers the same way:
    its present temperature and its noise settings. A model sets ``_temperature_K`` and
    says where its noise parameters are (``_noise``)."""

    _temperature_K: float

    def _noise(self) -> NoiseSource:
        raise NotImplementedError

    @property
    def temperature_K(self) -> float:
        return self._temperature_K

    @property
    def voltage_noise_V(self) -> float:
        return self._noise().voltage_noise_V

    @property
    def current_noise_A(self) -> float:
        return self._noise().current_noise_A

    @property
    def seed(self) -> int:
        return self._noise().seed
