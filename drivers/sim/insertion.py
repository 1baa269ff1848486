"""An insertion electrode against Li metal: OCV curve + series R + one RC + fade.

The equivalent circuit every layered-oxide half-cell model here shares::

    V = OCV(x) + I·R_s + V_rc,    dV_rc/dt = (I·R_p − V_rc) / τ,    dx/dt = η·I / Q_max

x is the fraction of the usable capacity extracted from the cathode (0 = lithiated,
discharged; 1 = at the upper cut-off of its specification), I > 0 charges (extracts Li),
η is the coulombic efficiency while charging (the rest of the charge feeds side reactions)
and 1 while discharging.

The first charge of fresh material loses more: while x is beyond the furthest it has ever
been (x_f, the "formed" fraction, the model's fourth state), η is ``first_cycle_efficiency``
instead (default 1: no extra loss; ncm622.py sets 0.88). So the first cycle's CE is that
value (a little less: the discharge stops at the lower cut-off under load), and later
cycles, which only revisit formed ground, have CE ≈ η. A real layered oxide's first-cycle
loss is mostly kinetic — the lithiated end is hard to refill at the discharge cut-off —
plus some irreversible surface and structural change (Kasnatscheew et al., Phys. Chem.
Chem. Phys. 18 (2016) 3956, on NCM111); coulomb counting sees the same first-cycle numbers
either way, which is what formation cycles and their analysis are about.

Capacity fade is loss of active material, tied to throughput: every coulomb discharged
takes ``fade_per_cycle`` coulombs off Q_max, so one full equivalent cycle costs
``fade_per_cycle`` of the capacity and x keeps its meaning.

Under constant current the state has a closed form (x linear in t, V_rc exponential). Under
constant voltage the current follows from the state algebraically; the hold is integrated
in chunks over which OCV is replaced by its secant, which turns the equations into a 2×2
linear system with an exact exponential solution. Chunks are sized so that the secant's
sag (|OCV''|·Δx²/8) stays below 1 % of I·R_s: long where the current has decayed, short
right after the switch from CC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.plan import CellSummary

from .curve import FloatArray, MonotoneCurve
from .model import CellReadings, NoiseSource, Trajectory
from .sim_table import INSTRUMENT_KEYS
from .units import sim_value

C_PER_AH = 3600.0
DEFAULT_SEED = 0x5EED
#: Keys an insertion-electrode model reads from the cell file's [sim] table.
SIM_KEYS = frozenset(
    {
        "model",
        "resistance",
        "polarization",
        "polarization_resistance",
        "polarization_time",
        "utilization",
        "fade_per_cycle",
        "coulombic_efficiency",
        "first_cycle_efficiency",
        "noise",
        "current_noise",
        "seed",
        "temperature",
        "initial_soc",
    }
)

_SECANT_SAG = 0.01  # allowed OCV sag within a CV chunk, as a fraction of I·R_s
_MAX_CHUNK_DX = 0.02  # and never more than this much of x in one chunk
_MAX_CHUNK_S = 600.0
_MIN_SLOPE = 1e-3  # V per unit x: keeps the linearised system well posed on a flat OCV


@dataclass(frozen=True, slots=True)
class InsertionParameters:
    capacity_C: float  # Q0: usable capacity of the fresh cell
    series_resistance_ohm: float
    polarization_resistance_ohm: float
    polarization_time_s: float
    fade_per_cycle: float
    coulombic_efficiency: float
    first_cycle_efficiency: float  # η on fresh material (x beyond the furthest it has been)
    initial_soc: float
    voltage_noise_V: float
    current_noise_A: float
    temperature_K: float
    seed: int

    @classmethod
    def from_cell(cls, cell: CellSummary, **defaults: str | float) -> InsertionParameters:
        """Read the cell's [sim] table; ``defaults`` override the generic ones per model."""
        sim = cell.sim
        unknown = sorted(set(sim) - SIM_KEYS - INSTRUMENT_KEYS)
        if unknown:
            raise ValueError(
                f"cell {cell.name!r}: unknown [sim] key(s) {', '.join(unknown)}; "
                f"this model reads {', '.join(sorted(SIM_KEYS))}"
            )
        d: dict[str, str | float] = {
            "resistance": "30 ohm",
            "polarization": "60 mV",
            "polarization_time": "600 s",
            "utilization": 1.0,
            "fade_per_cycle": 0.0005,
            "coulombic_efficiency": 0.998,
            "first_cycle_efficiency": 1.0,
            "noise": "0.2 mV",
            "current_noise": "1 nA",
            "temperature": "25 degC",
            "initial_soc": 0.0,
            **defaults,
        }
        # The slow (diffusion) overpotential scales with the cell: `polarization` is its
        # settled value at 1C, so a thin and a thick electrode both get a realistic CV tail.
        # `polarization_resistance` in ohm, when given, takes precedence.
        one_c_A = _specified_capacity_C(cell) / C_PER_AH
        if "polarization_resistance" in sim:
            r_p = sim_value(sim, "polarization_resistance", "0 ohm", "ohm")
        else:
            r_p = sim_value(sim, "polarization", d["polarization"], "V") / one_c_A
        params = cls(
            capacity_C=_specified_capacity_C(cell)
            * sim_value(sim, "utilization", d["utilization"], ""),
            series_resistance_ohm=sim_value(sim, "resistance", d["resistance"], "ohm"),
            polarization_resistance_ohm=r_p,
            polarization_time_s=sim_value(sim, "polarization_time", d["polarization_time"], "s"),
            fade_per_cycle=sim_value(sim, "fade_per_cycle", d["fade_per_cycle"], ""),
            coulombic_efficiency=sim_value(
                sim, "coulombic_efficiency", d["coulombic_efficiency"], ""
            ),
            first_cycle_efficiency=sim_value(
                sim, "first_cycle_efficiency", d["first_cycle_efficiency"], ""
            ),
            initial_soc=sim_value(sim, "initial_soc", d["initial_soc"], ""),
            voltage_noise_V=sim_value(sim, "noise", d["noise"], "V"),
            current_noise_A=sim_value(sim, "current_noise", d["current_noise"], "A"),
            temperature_K=sim_value(sim, "temperature", d["temperature"], "K"),
            seed=_seed(sim),
        )
        params.check(cell.name)
        return params

    def check(self, cell_name: str) -> None:
        problems = [
            text
            for bad, text in (
                (self.capacity_C <= 0, "capacity must be > 0"),
                (self.series_resistance_ohm <= 0, "resistance must be > 0"),
                (self.polarization_resistance_ohm < 0, "polarization_resistance must be ≥ 0"),
                (self.polarization_time_s <= 0, "polarization_time must be > 0"),
                (not 0 <= self.fade_per_cycle < 1, "fade_per_cycle must be in [0, 1)"),
                (not 0 < self.coulombic_efficiency <= 1, "coulombic_efficiency must be in (0, 1]"),
                (
                    not 0 < self.first_cycle_efficiency <= 1,
                    "first_cycle_efficiency must be in (0, 1]",
                ),
                (self.voltage_noise_V < 0 or self.current_noise_A < 0, "noise must be ≥ 0"),
                (self.temperature_K <= 0, "temperature must be above 0 K"),
            )
            if bad
        ]
        if problems:
            raise ValueError(f"cell {cell_name!r}: [sim] " + "; ".join(problems))


def _specified_capacity_C(cell: CellSummary) -> float:
    if cell.active_mass_kg is not None and cell.specific_capacity_Ah_kg is not None:
        return cell.active_mass_kg * cell.specific_capacity_Ah_kg * C_PER_AH
    if cell.nominal_capacity_Ah is not None:
        return cell.nominal_capacity_Ah * C_PER_AH
    raise ValueError(
        f"cell {cell.name!r}: the simulator needs a capacity "
        "(active mass and specific capacity, or a nominal capacity)"
    )


def _seed(sim: Mapping[str, Any]) -> int:
    raw = sim.get("seed", DEFAULT_SEED)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValueError(f"[sim] seed = {raw!r}: expected a whole number ≥ 0")
    return raw


class InsertionCell(CellReadings):
    """The cell; its state is (x, V_rc, charge discharged so far, x_f the formed fraction)."""

    def _noise(self) -> NoiseSource:
        return self.params

    def __init__(self, params: InsertionParameters, ocv: MonotoneCurve) -> None:
        self.params = params
        self.ocv = ocv
        self._x = params.initial_soc
        self._v_rc = 0.0
        self._discharged_C = 0.0
        self._formed = params.initial_soc
        self._temperature_K = params.temperature_K

    # -- CellModel -------------------------------------------------------------------------

    def set_temperature(self, temperature_K: float) -> None:
        """A chamber drives the cell: only the reported temperature follows (this model's
        resistances and OCV have no temperature dependence)."""
        if not temperature_K > 0:
            raise ValueError(f"temperature must be above 0 K, not {temperature_K!r}")
        self._temperature_K = temperature_K

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        p = self.params
        capacity = self.capacity_C
        formed = np.full(len(t_s), self._formed)
        if current_A > 0:
            # formed ground at η, then fresh material at the first cycle's efficiency
            rate, fresh_rate = (e * current_A / capacity for e in self._efficiencies())
            t_formed = max(self._formed - self._x, 0.0) / rate
            x = np.where(
                t_s <= t_formed,
                self._x + rate * t_s,
                max(self._x, self._formed) + fresh_rate * (t_s - t_formed),
            )
            formed = np.maximum(formed, x)
        else:
            x = self._x + (current_A / capacity) * t_s
        v_settled = current_A * p.polarization_resistance_ohm
        v_rc = v_settled + (self._v_rc - v_settled) * np.exp(-t_s / p.polarization_time_s)
        voltage = self.ocv(x) + current_A * p.series_resistance_ohm + v_rc
        discharged = self._discharged_C + max(-current_A, 0.0) * t_s
        return Trajectory(
            t_s=t_s,
            voltage_V=voltage,
            current_A=np.full(len(t_s), current_A),
            charge_C=current_A * t_s,
            state=np.column_stack((x, v_rc, discharged, formed)),
        )

    def _efficiencies(self) -> tuple[float, float]:
        """η while charging formed ground, and while charging fresh material (never more:
        ``first_cycle_efficiency = 1`` means no loss beyond the usual)."""
        p = self.params
        return p.coulombic_efficiency, min(p.first_cycle_efficiency, p.coulombic_efficiency)

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        p = self.params
        capacity = self.capacity_C
        n = len(t_s)
        x_out, v_out, i_out, q_out = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        d_out, f_out = np.empty(n), np.empty(n)
        x0, v0, t0, q0, d0 = self._x, self._v_rc, 0.0, 0.0, self._discharged_C
        formed = self._formed
        start = 0
        while start < n:
            ocv0 = self.ocv.value(x0)
            drive = voltage_V - ocv0  # e: the voltage the linear system relaxes away
            current0 = (drive - v0) / p.series_resistance_ohm
            on_formed, on_fresh = self._efficiencies()
            eta = (on_fresh if x0 >= formed else on_formed) if current0 > 0 else 1.0
            span = self._chunk_s(x0, current0, eta, capacity)
            stop = max(int(np.searchsorted(t_s, t0 + span, side="right")), start + 1)
            if current0 > 0 and x0 < formed:  # stop on reaching fresh material (± a sample)
                ahead = x0 + self._linear_hold(
                    max(self.ocv.slope(x0), _MIN_SLOPE), drive, v0, eta, capacity,
                    t_s[start:stop] - t0,
                )[0]
                past = np.flatnonzero(ahead > formed)
                if past.size:
                    stop = start + max(int(past[0]), 1)
            # tangent first, to see where x goes; then the secant through that end point
            slope = max(self.ocv.slope(x0), _MIN_SLOPE)
            end = t_s[stop - 1 : stop] - t0
            u_end = float(self._linear_hold(slope, drive, v0, eta, capacity, end)[0][0])
            if abs(u_end) > 1e-12:
                slope = max((self.ocv.value(x0 + u_end) - ocv0) / u_end, _MIN_SLOPE)
            u, v = self._linear_hold(slope, drive, v0, eta, capacity, t_s[start:stop] - t0)
            current = (drive - slope * u - v) / p.series_resistance_ohm
            charge = q0 + u * (capacity / eta)
            x_out[start:stop] = x0 + u
            v_out[start:stop] = v
            i_out[start:stop] = current
            q_out[start:stop] = charge
            d_out[start:stop] = d0 + (q0 - charge if current0 < 0 else 0.0)
            f_out[start:stop] = np.maximum(formed, np.maximum.accumulate(x_out[start:stop]))
            formed = float(f_out[stop - 1])
            x0, v0, t0 = float(x_out[stop - 1]), float(v[-1]), float(t_s[stop - 1])
            q0, d0 = float(charge[-1]), float(d_out[stop - 1])
            start = stop
        return Trajectory(
            t_s=t_s,
            voltage_V=np.full(n, voltage_V),
            current_A=i_out,
            charge_C=q_out,
            state=np.column_stack((x_out, v_out, d_out, f_out)),
        )

    def commit(self, trajectory: Trajectory, index: int) -> None:
        x, v_rc, discharged, formed = trajectory.state[index]
        self._x, self._v_rc, self._discharged_C = float(x), float(v_rc), float(discharged)
        self._formed = float(formed)

    # -- the cell as a lab would describe it -----------------------------------------------

    @property
    def capacity_C(self) -> float:
        """Q_max now: the fresh capacity less what fade has taken."""
        p = self.params
        return max(p.capacity_C - p.fade_per_cycle * self._discharged_C, 1e-3 * p.capacity_C)

    @property
    def extracted_fraction(self) -> float:
        return self._x

    @property
    def formed_fraction(self) -> float:
        """x_f: the furthest x has been; charging beyond it loses the first cycle's share."""
        return self._formed

    @property
    def open_circuit_voltage_V(self) -> float:
        return self.ocv.value(self._x)

    # -- the constant-voltage hold ---------------------------------------------------------

    def _chunk_s(self, x0: float, current0: float, eta: float, capacity: float) -> float:
        rate = eta * abs(current0) / capacity  # |dx/dt| at the start of the chunk
        if rate == 0.0:
            return _MAX_CHUNK_S
        curvature = self.ocv.curvature_bound(x0)
        sag_limit = 8 * _SECANT_SAG * abs(current0) * self.params.series_resistance_ohm
        dx = _MAX_CHUNK_DX
        if curvature > 0:
            dx = min(math.sqrt(sag_limit / curvature), dx)
        return min(dx / rate, _MAX_CHUNK_S)

    def _linear_hold(
        self, slope: float, drive: float, v0: float, eta: float, capacity: float, t: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(u, V_rc) at t for OCV = OCV(x0) + slope·u, u = x − x0, starting at (0, v0).

        d/dt (u, v) = A·(u, v) + b with I = (drive − slope·u − v)/R_s; the fixed point is
        I = 0, V_rc = 0, u = drive/slope; the matrix exponential of the 2×2 A is written out
        from its (real, negative) eigenvalues m ± d.
        """
        p = self.params
        alpha = eta / (capacity * p.series_resistance_ohm)
        beta = p.polarization_resistance_ohm / (p.polarization_time_s * p.series_resistance_ohm)
        a00, a01 = -alpha * slope, -alpha
        a10, a11 = -beta * slope, -beta - 1.0 / p.polarization_time_s
        m = 0.5 * (a00 + a11)
        d = math.sqrt(max(m * m - (a00 * a11 - a01 * a10), 0.0))
        z0, z1 = -drive / slope, v0  # start minus fixed point
        w0 = (a00 - m) * z0 + a01 * z1
        w1 = a10 * z0 + (a11 - m) * z1
        e1 = np.exp((m + d) * t)
        e2 = np.exp((m - d) * t)
        c0 = 0.5 * (e1 + e2)  # e^{mt} cosh(dt)
        if d * float(t[-1]) < 20.0:  # e^{mt} sinh(dt)/d, exact also as d → 0
            c1 = np.exp(m * t) * np.sinh(d * t) / d if d > 0 else t * np.exp(m * t)
        else:
            c1 = (e1 - e2) / (2 * d)
        u = drive / slope + c0 * z0 + c1 * w0
        v = c0 * z1 + c1 * w1
        return u, v
