"""``pybamm``: a physics-based cell (PyBaMM's SPMe by default) behind the simulator's
CellModel interface, so the engine drives it step by step like any simulated cell.

Needs the optional extra ``cyclerctl[pybamm]``. The parameter set is named in the cell file
(``[sim] parameter_set``, default ``Chen2020``: Chen et al., J. Electrochem. Soc. 167 (2020)
080534, an LG M50 NMC811|graphite cell), and scaled to the cell file's capacity by the
electrode width: current densities, and so every C-rate's voltages, are the parameter set's
own, while the cell's currents are the protocol's.

One model serves every step: its current is an algebraic variable whose equation is
``m·(V − V_set) + (1 − m)·(I − I_set) = 0`` (PyBaMM's custom operating mode), with ``m``,
``V_set`` and ``I_set`` input parameters, so a CC and a CV step share one compiled model and
one state vector. ``hold_*`` steps the IDAKLU solver from the committed state without
changing it (PyBaMM's ``step(old_solution, …, save=False)`` returns only the new part); the
Trajectory's state rows carry (t, m, I_set, V_set, y…) so ``commit`` rebuilds a one-point
Solution to continue from. Sign: PyBaMM's positive current discharges; ours charges.

[sim] keys: parameter_set ("Chen2020"), model ("SPMe"; "SPM", "DFN"), initial_soc (0),
temperature ("25 degC"), cutoff_low ("2.0 V"), cutoff_high ("4.6 V": wider than any
protocol's limits, so the channel decides where a step ends; PyBaMM stops at these),
noise ("0.2 mV"), current_noise ("1 nA"), seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.plan import CellSummary

from .model import CellReadings, FloatArray, NoiseSource, Trajectory
from .units import sim_value

NAME = "pybamm"
MODELS = ("SPM", "SPMe", "DFN")
_HEAD = 4  # state columns before the solver's y: t, m, I_set, V_set


@dataclass(frozen=True, slots=True)
class _Noise:
    voltage_noise_V: float
    current_noise_A: float
    seed: int


def build(cell: CellSummary) -> PybammCell:
    """The model for one cell (imported only when a cell file asks for it: PyBaMM is an
    optional extra and takes seconds to import)."""
    return PybammCell(cell)


class PybammCell(CellReadings):
    def __init__(self, cell: CellSummary) -> None:
        os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")  # no phoning home
        try:
            import pybamm
        except ImportError:
            raise ValueError(
                f"cell {cell.name!r}: [sim] model = 'pybamm' needs PyBaMM: "
                "pip install 'cyclerctl[pybamm]'"
            ) from None
        sim = cell.sim
        if cell.nominal_capacity_Ah is None:
            raise ValueError(f"cell {cell.name!r}: the pybamm model needs the cell's capacity")
        set_name = str(sim.get("parameter_set", "Chen2020"))
        kind = str(sim.get("model", "SPMe")) if sim.get("model") != NAME else "SPMe"
        kind = str(sim.get("physics", kind))
        if kind not in MODELS:
            raise ValueError(f"[sim] physics = {kind!r}: choose one of {', '.join(MODELS)}")
        self._pb = pybamm
        self._temperature_K = sim_value(sim, "temperature", "25 degC", "K")
        self._noise_source = _Noise(
            sim_value(sim, "noise", "0.2 mV", "V"),
            sim_value(sim, "current_noise", "1 nA", "A"),
            int(sim.get("seed", 0)),
        )

        def control(variables: dict[str, Any]) -> Any:
            m = pybamm.InputParameter("Voltage control")
            return m * (variables["Voltage [V]"] - pybamm.InputParameter("Voltage set [V]")) + (
                1 - m
            ) * (variables["Current [A]"] - pybamm.InputParameter("Current set [A]"))

        model = getattr(pybamm.lithium_ion, kind)({"operating mode": control})
        try:
            param = pybamm.ParameterValues(set_name)
        except Exception as exc:  # PyBaMM raises its own error types
            raise ValueError(f"[sim] parameter_set = {set_name!r}: {exc}") from None
        scale = cell.nominal_capacity_Ah / float(param["Nominal cell capacity [A.h]"])
        param["Electrode width [m]"] = float(param["Electrode width [m]"]) * scale
        param["Nominal cell capacity [A.h]"] = cell.nominal_capacity_Ah
        param["Lower voltage cut-off [V]"] = sim_value(sim, "cutoff_low", "2.0 V", "V")
        param["Upper voltage cut-off [V]"] = sim_value(sim, "cutoff_high", "4.6 V", "V")
        param["Ambient temperature [K]"] = self._temperature_K
        param["Initial temperature [K]"] = self._temperature_K
        simulation = pybamm.Simulation(model, parameter_values=param, solver=pybamm.IDAKLUSolver())
        simulation.build(initial_soc=float(sim.get("initial_soc", 0.0)))
        self._model = simulation.built_model
        self._solver = simulation.solver
        rest = {"Voltage control": 0.0, "Current set [A]": 0.0, "Voltage set [V]": 0.0}
        first = self._solver.solve(self._model, [0.0, 1e-3], inputs=rest)
        self._state = self._one_point(0.0, first.all_ys[-1][:, -1], rest)
        self._discharged_Ah = float(first["Discharge capacity [A.h]"].entries[-1])

    def _noise(self) -> NoiseSource:
        return self._noise_source

    def _one_point(self, t: float, y: FloatArray, inputs: dict[str, float]) -> Any:
        return self._pb.Solution(
            [np.array([t])], [np.asarray(y, dtype=float).reshape(-1, 1)], [self._model], [inputs]
        )

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        inputs = {"Voltage control": 0.0, "Current set [A]": -current_A, "Voltage set [V]": 0.0}
        return self._hold(inputs, t_s)

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        inputs = {"Voltage control": 1.0, "Current set [A]": 0.0, "Voltage set [V]": voltage_V}
        return self._hold(inputs, t_s)

    def _hold(self, inputs: dict[str, float], t_s: FloatArray) -> Trajectory:
        t_s = np.asarray(t_s, dtype=float)
        t0 = float(self._state.t[-1])
        dt = max(float(t_s[-1]), 1e-3)  # step() takes times from the present state
        solution = self._solver.step(
            self._state, self._model, dt, t_interp=t_s, inputs=inputs, save=False
        )
        voltage = np.asarray(solution["Voltage [V]"].entries, dtype=float)
        current = -np.asarray(solution["Current [A]"].entries, dtype=float)
        discharged = np.asarray(solution["Discharge capacity [A.h]"].entries, dtype=float)
        ys = np.asarray(solution.all_ys[-1], dtype=float).T
        # the requested times reached; after an event PyBaMM appends the event's own point
        reached = np.asarray(solution.t, dtype=float)[-1] - t0
        got = min(int(np.searchsorted(t_s, reached * (1 + 1e-12) + 1e-9, side="right")), t_s.size)
        got = min(got, voltage.size, ys.shape[0])
        if got == 0:
            raise ValueError(f"PyBaMM gave no point ({solution.termination})")
        charge = -(discharged[:got] - self._discharged_Ah) * 3600.0
        beyond = t_s.size - got  # PyBaMM stopped at a cut-off before the last times
        if beyond:
            # Held at the cut-off: the channel ends the step at the protocol's own limit
            # (inside the cut-offs) before these points; committing to one is an error.
            extra = t_s[got:] - t_s[got - 1]
            voltage = np.r_[voltage[:got], np.full(beyond, voltage[got - 1])]
            charge = np.r_[charge, charge[-1] + current[got - 1] * extra]
            current = np.r_[current[:got], np.full(beyond, current[got - 1])]
            ys = np.vstack([ys[:got], np.full((beyond, ys.shape[1]), np.nan)])
        head = np.column_stack(
            [
                t0 + t_s,
                np.full(t_s.size, inputs["Voltage control"]),
                np.full(t_s.size, inputs["Current set [A]"]),
                np.full(t_s.size, inputs["Voltage set [V]"]),
            ]
        )
        return Trajectory(
            t_s=t_s,
            voltage_V=voltage[: t_s.size],
            current_A=current[: t_s.size],
            charge_C=charge[: t_s.size],
            state=np.hstack([head, ys[: t_s.size]]),
        )

    def commit(self, trajectory: Trajectory, index: int) -> None:
        row = trajectory.state[index]
        if np.isnan(row[_HEAD:]).any():
            raise ValueError(
                "the cell went past PyBaMM's voltage cut-offs ([sim] cutoff_low/cutoff_high); "
                "the protocol's limits must lie inside them"
            )
        inputs = {
            "Voltage control": float(row[1]),
            "Current set [A]": float(row[2]),
            "Voltage set [V]": float(row[3]),
        }
        self._state = self._one_point(float(row[0]), row[_HEAD:], inputs)
        self._discharged_Ah -= float(trajectory.charge_C[index]) / 3600.0
