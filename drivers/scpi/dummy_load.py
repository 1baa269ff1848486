"""A plain resistor on the emulated SourceMeter's terminals, for commissioning in CI.

A technician proves a new instrument on a dummy load before a cell goes on it (issue 14,
"Commissioning"): with R ohms on the terminals, Ohm's law gives what every reading must say.
:class:`Resistor` answers the two questions a simulated channel asks of its cell model —
"what voltage if I hold this current?" (V = I·R) and "what current if I hold this voltage?"
(I = V/R) — so a ``SimChannel`` runs it exactly as it runs a cell: the emulator's link
(:mod:`.cell_link`) cannot tell the two apart. A resistor has no state, no open-circuit
voltage (it reads 0 V at rest, which is what tells a dummy from a cell), no temperature
dependence. Noise: 10 µV and 1 nA (seeded), so an Ohm's-law check has something to tolerate.
"""

from __future__ import annotations

import numpy as np

from ..sim import SimChannel
from ..sim.model import FloatArray, Trajectory

ROOM_TEMPERATURE_K = 298.15
VOLTAGE_NOISE_V = 10e-6
CURRENT_NOISE_A = 1e-9
DEFAULT_SEED = 0


class Resistor:
    """A resistor as a simulated cell model (``drivers.sim.model.CellModel``)."""

    def __init__(self, resistance_ohm: float, *, seed: int = DEFAULT_SEED) -> None:
        if not resistance_ohm > 0 or not np.isfinite(resistance_ohm):
            raise ValueError(f"dummy load: a resistance > 0 ohm, not {resistance_ohm!r}")
        self.resistance_ohm = float(resistance_ohm)
        self._seed = seed

    @property
    def temperature_K(self) -> float:
        return ROOM_TEMPERATURE_K

    @property
    def voltage_noise_V(self) -> float:
        return VOLTAGE_NOISE_V

    @property
    def current_noise_A(self) -> float:
        return CURRENT_NOISE_A

    @property
    def seed(self) -> int:
        return self._seed

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        current = np.full(len(t_s), float(current_A))
        return self._trajectory(t_s, current * self.resistance_ohm, current)

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        voltage = np.full(len(t_s), float(voltage_V))
        return self._trajectory(t_s, voltage, voltage / self.resistance_ohm)

    def commit(self, trajectory: Trajectory, index: int) -> None:
        """Nothing to move: a resistor has no state."""

    def _trajectory(self, t_s: FloatArray, voltage: FloatArray, current: FloatArray) -> Trajectory:
        t = np.asarray(t_s, dtype=np.float64)
        return Trajectory(
            t_s=t,
            voltage_V=voltage,
            current_A=current,
            charge_C=current * t,
            state=np.zeros((len(t), 0)),
        )


def resistor_channel(
    resistance_ohm: float,
    *,
    seed: int | None = None,
    sample_interval_s: float = 1.0,
    realtime: bool = False,
    speed: float = 1.0,
) -> SimChannel:
    """A simulated channel with a resistor on it and no end conditions of its own (the
    emulated SMU ends nothing itself)."""
    model = Resistor(resistance_ohm, seed=DEFAULT_SEED if seed is None else seed)
    return SimChannel(
        model,
        name="smu:1",
        rng=np.random.default_rng([model.seed, 0]),
        sample_interval_s=sample_interval_s,
        realtime=realtime,
        speed=speed,
        native_end_conditions=frozenset(),
        model_name=f"resistor {resistance_ohm:g} ohm",
    )
