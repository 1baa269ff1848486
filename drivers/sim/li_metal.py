"""What the Li-metal cells (``li-li``, ``li-cu``) share.

Both are a quasi-solid electrolyte membrane between two metal electrodes: its bulk
resistance R_b in series with the electrode interfaces (a charge-transfer resistance in
parallel with a constant-phase element, lumped into one)::

    R_b(T) = R_b(T_ref) · σ_ref/σ(T),    σ(T) Arrhenius (electrolyte.py)
    R_b(T_ref) = ``resistance`` when given, else L/(σ_ref·S) with L the cell's ``thickness``
                 (the membrane) and S its area, else 20 Ω

Both short the same way: Li grows through the membrane once the current density reaches
the critical current density. Every second spent at |I|/S ≥ ``ccd`` (compared with a
relative tolerance of 1e-4, so a ramp value equal to the CCD counts as an instrument sets
it) adds to a dendrite clock; at ``short_delay`` the cell is shorted for good and its terminals show
``short_resistance`` (V = I·R_short). Below the CCD the clock never runs, nor while no Li
is deposited where it could grow (a regime's ``grows_dendrites``: SEI formed on bare Cu
while the Li foil is only stripped).

A hold passes through regimes (Li left or exhausted, a short, …). :func:`follow` strings
them together: each regime is a :class:`Piece` with a closed-form response, a duration and
the state it hands on; the dendrite clock and the short are tracked here, on top. The last
two columns of every state row are that clock (s) and the shorted flag (0/1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.plan import CellSummary

from . import electrolyte
from .circuit import angular, cpe_admittance
from .electrolyte import Electrolyte, bulk_resistance_ohm
from .model import CellReadings, ComplexArray, FloatArray, NoiseSource, Trajectory
from .sim_table import read_seed
from .units import sim_value

#: [sim] keys every Li-metal model reads.
COMMON_KEYS = electrolyte.KEYS | frozenset(
    {
        "model",
        "resistance",
        "cpe_q",
        "cpe_n",
        "ccd",
        "short_delay",
        "short_resistance",
        "noise",
        "current_noise",
        "seed",
        "temperature",
    }
)
DEFAULT_RESISTANCE = "20 ohm"
#: relative: |j| ≥ ccd·(1 − this) counts as at the CCD. A real threshold is not sharp to
#: the last digit, and an instrument sets a current to its own resolution (a SourceMeter
#: takes "1.13097e-03" over SCPI), so a ramp value equal to the CCD must count as it.
CCD_TOLERANCE = 1e-4
#: The two columns :func:`follow` appends to a model's state row.
CLOCK, SHORTED = -2, -1
_MAX_PIECES = 64
_BISECTION_S = 1e-12  # where the current crosses the CCD: to this × the span

# Ω·cm² has no entry in units.py; these spellings (and a plain number, SI) are read.
_AREAL_RESISTANCE = {"ohm m^2": 1.0, "ohm cm^2": 1e-4, "mohm cm^2": 1e-7, "kohm cm^2": 0.1}
_NUMBER_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")


def areal_resistance(sim: Mapping[str, Any], key: str, default: str | float) -> float:
    """``sim[key]`` in Ω·m² ("50 ohm cm^2", "50 Ω·cm²"; a plain number is SI)."""
    raw = sim.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"[sim] {key} = {raw!r}: expected an area-specific resistance")
    if not isinstance(raw, str):
        return float(raw)
    match = _NUMBER_UNIT.match(raw)
    unit = "" if match is None else match.group(2)
    for old, new in (
        ("Ω", "ohm"),
        ("²", "^2"),
        ("·", " "),
        ("*", " "),
        ("cm2", "cm^2"),
        ("m2", "m^2"),
    ):
        unit = unit.replace(old, new)
    unit = " ".join(unit.split())
    factor = 1.0 if unit == "" else _AREAL_RESISTANCE.get(unit)
    if match is None or factor is None:
        raise ValueError(
            f"[sim] {key} = {raw!r}: expected an area-specific resistance like '50 ohm cm^2'"
        )
    value = float(match.group(1)) * factor
    if not math.isfinite(value):
        raise ValueError(f"[sim] {key} = {raw!r}: not a finite number")
    return value


@dataclass(frozen=True, slots=True)
class LiMetalParameters:
    """The part of a Li-metal cell's [sim] table every model reads (SI)."""

    electrolyte: Electrolyte
    bulk_resistance_ohm: float  # R_b at the electrolyte's reference temperature
    area_m2: float
    cpe_q: float  # F·s^(n−1), the lumped interfaces' CPE
    cpe_n: float
    ccd_A_m2: float
    short_delay_s: float
    short_resistance_ohm: float
    voltage_noise_V: float
    current_noise_A: float
    temperature_K: float
    seed: int

    @classmethod
    def from_cell(cls, cell: CellSummary, *, ccd: str, seed: int) -> LiMetalParameters:
        sim = cell.sim
        medium = Electrolyte.from_sim(sim, cell.name)
        if "resistance" in sim or cell.thickness_m is None:
            resistance = sim_value(sim, "resistance", DEFAULT_RESISTANCE, "ohm")
        else:
            resistance = bulk_resistance_ohm(
                medium.conductivity_S_m, cell.thickness_m, cell.area_m2
            )
        return cls(
            electrolyte=medium,
            bulk_resistance_ohm=resistance,
            area_m2=cell.area_m2,
            cpe_q=sim_value(sim, "cpe_q", 1e-5, "F s^(n-1)"),
            cpe_n=sim_value(sim, "cpe_n", 0.85, ""),
            ccd_A_m2=sim_value(sim, "ccd", ccd, "A/m^2"),
            short_delay_s=sim_value(sim, "short_delay", "60 s", "s"),
            short_resistance_ohm=sim_value(sim, "short_resistance", "0.5 ohm", "ohm"),
            voltage_noise_V=sim_value(sim, "noise", "50 uV", "V"),
            current_noise_A=sim_value(sim, "current_noise", "1 nA", "A"),
            temperature_K=sim_value(sim, "temperature", "25 degC", "K"),
            seed=read_seed(sim, seed),
        )

    def problems(self) -> list[str]:
        return [
            text
            for bad, text in (
                (self.bulk_resistance_ohm <= 0, "resistance must be > 0"),
                (self.area_m2 <= 0, "the cell's area must be > 0"),
                (self.cpe_q <= 0, "cpe_q must be > 0"),
                (not 0 < self.cpe_n <= 1, "cpe_n must be in (0, 1]"),
                (self.ccd_A_m2 <= 0, "ccd must be > 0"),
                (self.short_delay_s < 0, "short_delay must be ≥ 0"),
                (self.short_resistance_ohm <= 0, "short_resistance must be > 0"),
                (self.voltage_noise_V < 0 or self.current_noise_A < 0, "noise must be ≥ 0"),
                (self.temperature_K <= 0, "temperature must be above 0 K"),
            )
            if bad
        ]

    def bulk_resistance_at(self, temperature_K: float) -> float:
        return self.bulk_resistance_ohm * self.electrolyte.resistance_factor(temperature_K)

    @property
    def short(self) -> Short:
        return Short(
            threshold_A=self.ccd_A_m2 * self.area_m2 * (1.0 - CCD_TOLERANCE),
            delay_s=self.short_delay_s,
        )


def refuse(cell_name: str, problems: list[str]) -> None:
    if problems:
        raise ValueError(f"cell {cell_name!r}: [sim] " + "; ".join(problems))


def interface_impedance(
    resistance_ohm: float, cpe_q: float, cpe_n: float, frequency_Hz: FloatArray
) -> ComplexArray:
    """R ‖ CPE: 1 / (1/R + Q·(jω)^n)."""
    admittance = cpe_admittance(cpe_q, cpe_n, angular(frequency_Hz))
    if resistance_ohm > 0:
        admittance = admittance + 1.0 / resistance_ohm
    result: ComplexArray = 1.0 / admittance
    return result


def shorted_in_parallel(cell: ComplexArray, short_ohm: float) -> ComplexArray:
    """What an analyser sees across a cell with a dendrite short through it."""
    result: ComplexArray = 1.0 / (1.0 / cell + 1.0 / short_ohm)
    return result


# -- holds through several regimes -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """A regime's noiseless response at times u from its start."""

    voltage_V: FloatArray
    current_A: FloatArray
    charge_C: FloatArray  # since the start of the regime
    state: FloatArray  # (len(u), k): the model's own columns


@dataclass(frozen=True, slots=True)
class Piece:
    """One regime of a hold. ``respond`` must give a current monotone in u."""

    respond: Callable[[FloatArray], Response]
    duration_s: float = math.inf
    #: the model's state row at the end of the regime → the row the next regime starts from
    after: Callable[[FloatArray], FloatArray] | None = None
    #: False: no Li is deposited anywhere it could grow through the membrane (e.g. SEI
    #: formed on bare Cu while the Li foil is stripped), so the dendrite clock stands still
    grows_dendrites: bool = True

    def current_at(self, u: float) -> float:
        return float(self.respond(np.array([u])).current_A[0])


def steady(voltage_V: float, current_A: float, row: FloatArray) -> Piece:
    """A regime in which nothing changes but the charge passed."""

    def respond(u: FloatArray) -> Response:
        n = len(u)
        return Response(
            np.full(n, voltage_V), np.full(n, current_A), current_A * u, np.tile(row, (n, 1))
        )

    return Piece(respond)


@dataclass(frozen=True, slots=True)
class Short:
    threshold_A: float  # |I| at or above this runs the dendrite clock
    delay_s: float

    def overcritical(self, piece: Piece, span: float) -> tuple[tuple[float, float], ...]:
        """The intervals of [0, span] in which |I| ≥ threshold (I monotone in the piece)."""
        found = []
        for interval in (
            _where_at_least(piece.current_at, span, self.threshold_A),
            _where_at_least(lambda u: -piece.current_at(u), span, self.threshold_A),
        ):
            if interval is not None and interval[1] > interval[0]:
                found.append(interval)
        return tuple(sorted(found))

    @staticmethod
    def onset(intervals: tuple[tuple[float, float], ...], budget_s: float) -> float | None:
        """When the clock, ``budget_s`` short of the delay, reaches it; None: not in these."""
        for low, high in intervals:
            if high - low >= budget_s:
                return low + budget_s
            budget_s -= high - low
        return None


def _where_at_least(
    f: Callable[[float], float], span: float, level: float
) -> tuple[float, float] | None:
    """{u in [0, span]: f(u) ≥ level} for a monotone f: empty, a prefix or a suffix."""
    first, last = f(0.0) >= level, f(span) >= level
    if first and last:
        return (0.0, span)
    if not first and not last:
        return None
    low, high = 0.0, span  # f(low) on the side of f(0), f(high) on the side of f(span)
    while high - low > _BISECTION_S * max(span, 1.0):
        middle = 0.5 * (low + high)
        if (f(middle) >= level) == first:
            low = middle
        else:
            high = middle
    return (0.0, low) if first else (high, span)


def _clock_time(u: FloatArray, intervals: tuple[tuple[float, float], ...]) -> FloatArray:
    total = np.zeros(len(u))
    for low, high in intervals:
        total += np.clip(u, low, high) - low
    return total


def follow(
    start: FloatArray, t_s: FloatArray, regime: Callable[[FloatArray], Piece], short: Short
) -> Trajectory:
    """The hold from state row ``start`` at times ``t_s``, regime after regime.

    ``regime(row)`` is the piece the hold is in from state ``row`` (a shorted row included);
    a point exactly at a regime's end belongs to the next one.
    """
    n, width = len(t_s), len(start)
    voltage, current, charge = np.empty(n), np.empty(n), np.empty(n)
    state = np.empty((n, width))
    if n == 0:
        return Trajectory(t_s, voltage, current, charge, state)
    row = np.array(start, dtype=float)
    horizon = float(t_s[-1])
    t0 = q0 = 0.0
    i = 0
    for _ in range(_MAX_PIECES):
        piece = regime(row)
        shorted = row[SHORTED] > 0
        clock = float(row[CLOCK])
        span = max(min(piece.duration_s, horizon - t0), 0.0)
        intervals = (
            () if shorted or not piece.grows_dendrites else short.overcritical(piece, span)
        )
        onset = None if shorted else short.onset(intervals, short.delay_s - clock)
        end = piece.duration_s if onset is None else min(onset, piece.duration_s)
        j = n if math.isinf(end) else i + int(np.searchsorted(t_s[i:], t0 + end, side="left"))
        if j > i:
            u = t_s[i:j] - t0
            response = piece.respond(u)
            voltage[i:j] = response.voltage_V
            current[i:j] = response.current_A
            charge[i:j] = q0 + response.charge_C
            state[i:j, :CLOCK] = response.state
            state[i:j, CLOCK] = clock + _clock_time(u, intervals)
            state[i:j, SHORTED] = row[SHORTED]
            i = j
        if i >= n:
            return Trajectory(t_s, voltage, current, charge, state)
        at_end = piece.respond(np.array([end]))
        model_row = at_end.state[0]
        if end >= piece.duration_s and piece.after is not None:
            model_row = piece.after(model_row)
        row = np.concatenate(
            (
                model_row,
                [
                    clock + float(_clock_time(np.array([end]), intervals)[0]),
                    1.0 if shorted or (onset is not None and onset <= end) else 0.0,
                ],
            )
        )
        q0 += float(at_end.charge_C[0])
        t0 += end
    raise RuntimeError("a hold went through too many regimes")  # a model bug, not a cell's


class LiMetalCell(CellReadings):
    """The CellModel plumbing that Li‖Li and Li‖Cu share: a state row that holds follow
    regime by regime (:func:`follow`), and the common parameters. A subclass sets
    ``common``, ``_short``, ``_temperature_K`` and ``_row`` and defines its two regimes."""

    common: LiMetalParameters
    _short: Short
    _temperature_K: float
    _row: FloatArray

    def _noise(self) -> NoiseSource:
        return self.common

    def hold_current(self, current_A: float, t_s: FloatArray) -> Trajectory:
        return follow(self._row, t_s, lambda row: self._galvanostatic(current_A, row), self._short)

    def hold_voltage(self, voltage_V: float, t_s: FloatArray) -> Trajectory:
        return follow(self._row, t_s, lambda row: self._potentiostatic(voltage_V, row), self._short)

    def commit(self, trajectory: Trajectory, index: int) -> None:
        self._row = np.array(trajectory.state[index], dtype=float)

    def _galvanostatic(self, current_A: float, row: FloatArray) -> Piece:
        raise NotImplementedError

    def _potentiostatic(self, voltage_V: float, row: FloatArray) -> Piece:
        raise NotImplementedError
