"""What the simulated channel needs from a cell model.

A model answers two questions about its cell, "what voltage if I hold this current?" and
"what current if I hold this voltage?", for a whole array of future times at once, without
changing its state. The channel then decides where the step really goes (a cut-off crossed
between two samples, the CC→CV switch) and commits the model to one of those points.
Keeping the questions pure is what lets the channel locate a crossing exactly and still
compute hours of cycling as a few numpy expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


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
