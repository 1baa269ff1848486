"""Equivalent-circuit fits of impedance spectra (complex non-linear least squares, CNLS).

Method: minimise Σ (ΔZ'² + ΔZ''²)/|Z|² over the points, i.e. modulus weighting, the
standard choice when the measurement's own variances are unknown (Boukamp, Solid State
Ionics 20 (1986) 31; Orazem & Tribollet, *Electrochemical Impedance Spectroscopy*, ch. 19).
Positive parameters are fitted as their logarithm and CPE exponents within [0, 1], so no
parameter can leave its physical range; scipy's trust-region reflective least squares does
the work from several starting points read off the data, and the best is kept. The same
objective is ``CustomCircuit(...).fit(f, Z, weight_by_modulus=True)`` in impedance.py
(Murbach et al., JOSS 5 (2020) 2349), which the tests check us against on measured spectra.

Standard errors come from the Jacobian at the optimum: cov = s² (JᵀJ)⁻¹ with
s² = χ²/(2N − p), carried from log-space to the parameters by the delta method.
χ² here is the modulus-weighted sum above (dimensionless), the reduced χ² is χ²/(2N − p),
and ``rel_rms`` = √(χ²/N) is the typical |Z_fit − Z|/|Z| of a point.

:func:`bulk_resistance` reads the bulk (ionic) resistance of a blocking cell; see there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cyclerctl.analysis import circuits, spectrum
from cyclerctl.analysis.circuits import EXPONENTS, UNITS, Complexes, Floats

#: A fit whose points miss by more than this (relative RMS) does not describe the spectrum.
MAX_REL_RMS = 0.15
#: Positive parameters may move e^±25 (≈ 11 decades) from their start: any physical value
#: is inside, and a parameter the data do not fix (R0 → 0) stops at the bound quickly.
_LOG_SPAN = 25.0


class FitError(ValueError):
    """No starting point led to a usable fit."""


@dataclass(frozen=True, slots=True)
class CircuitFit:
    circuit: str
    parameters: dict[str, float]
    errors: dict[str, float | None]  # standard errors; None where the data do not fix it
    chi_square: float
    reduced_chi_square: float
    rel_rms: float
    n_points: int
    f_min_Hz: float
    f_max_Hz: float
    covariance: np.ndarray[Any, np.dtype[np.float64]] = field(compare=False, repr=False)

    def impedance(self, f_Hz: Floats) -> Complexes:
        return circuits.circuit(self.circuit).impedance(self.parameters, f_Hz)

    def sum_error(self, names: Sequence[str]) -> float | None:
        """Standard error of the sum of some parameters (correlations included)."""
        idx = [circuits.circuit(self.circuit).parameters.index(n) for n in names]
        var = float(self.covariance[np.ix_(idx, idx)].sum())
        return math.sqrt(var) if math.isfinite(var) and var >= 0 else None

    def as_data(self) -> dict[str, Any]:
        """JSON-friendly summary for a result's ``data``."""
        return {
            "circuit": self.circuit,
            "impedance_py": circuits.circuit(self.circuit).impedance_py,
            "parameters": dict(self.parameters),
            "errors": dict(self.errors),
            "units": {n: UNITS[n] for n in self.parameters},
            "chi_square": self.chi_square,
            "reduced_chi_square": self.reduced_chi_square,
            "rel_rms": self.rel_rms,
            "n_points": self.n_points,
            "f_range_Hz": [self.f_min_Hz, self.f_max_Hz],
            "weighting": "modulus",
        }


def _to_x(names: Sequence[str], p: Mapping[str, float]) -> Floats:
    return np.array([p[n] if n in EXPONENTS else math.log(p[n]) for n in names])


def _from_x(names: Sequence[str], x: Floats) -> dict[str, float]:
    return {n: float(v if n in EXPONENTS else math.exp(v)) for n, v in zip(names, x, strict=True)}


def fit_circuit(
    f_Hz: Floats,
    Z: Complexes,
    circuit: str,
    initial: Iterable[Mapping[str, float]] | None = None,
) -> CircuitFit:
    """Fit ``circuit`` ("R-CPE", "R-RQ", "R-RQ-W"; see :mod:`cyclerctl.analysis.circuits`)
    to Z(f) (Hz, Ω; Z'' negative where capacitive).

    ``initial``: starting points to use instead of the ones read off the data.
    FitError when the data are too few or no start converges to finite parameters.
    """
    from scipy.optimize import least_squares  # type: ignore[import-untyped]  # slow import

    model = circuits.circuit(circuit)
    names = model.parameters
    f, z = spectrum.clean(f_Hz, Z)
    if f.size < len(names):
        raise FitError(f"{f.size} points are too few to fit {circuit}")
    omega = 2.0 * np.pi * f
    weight = 1.0 / np.maximum(np.abs(z), np.finfo(float).tiny)

    def residuals(x: Floats) -> Floats:
        with np.errstate(all="ignore"):
            d = (model.model(_from_x(names, x), omega) - z) * weight
        out: Floats = np.nan_to_num(
            np.concatenate([d.real, d.imag]), nan=1e6, posinf=1e6, neginf=-1e6
        )
        return out

    exponent = np.array([n in EXPONENTS for n in names])
    best: Any = None
    for start in initial if initial is not None else spectrum.guesses(circuit, f, z):
        x0 = _to_x(names, start)
        lower = np.where(exponent, 0.0, x0 - _LOG_SPAN)
        upper = np.where(exponent, 1.0, x0 + _LOG_SPAN)
        x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)
        try:
            r = least_squares(
                residuals, x0, bounds=(lower, upper), method="trf", x_scale="jac",
                max_nfev=400 * len(names),
            )  # fmt: skip
        except (ValueError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(r.x)) and (best is None or r.cost < best.cost):
            best = r
    if best is None:
        raise FitError(f"no start converged for {circuit}")
    return _summary(circuit, names, f, best.x, np.asarray(best.jac), 2.0 * float(best.cost))


def _summary(
    name: str, names: Sequence[str], f: Floats, x: Floats, jac: Floats, chi2: float
) -> CircuitFit:
    params = _from_x(names, x)
    m, p = jac.shape
    dof = max(m - p, 1)
    scale = np.array([1.0 if n in EXPONENTS else params[n] for n in names])
    try:
        cov_x = np.linalg.pinv(jac.T @ jac) * (chi2 / dof)
        cov = cov_x * np.outer(scale, scale)
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.inf)
    errors: dict[str, float | None] = {}
    for i, n in enumerate(names):
        var = float(cov[i, i])
        errors[n] = math.sqrt(var) if math.isfinite(var) and var >= 0 else None
    return CircuitFit(
        circuit=name,
        parameters=params,
        errors=errors,
        chi_square=chi2,
        reduced_chi_square=chi2 / dof,
        rel_rms=math.sqrt(chi2 / f.size),
        n_points=int(f.size),
        f_min_Hz=float(f.min()),
        f_max_Hz=float(f.max()),
        covariance=cov,
    )


@dataclass(frozen=True, slots=True)
class BulkResistance:
    """The bulk resistance of a blocking cell and how it was read."""

    ohm: float
    stderr_ohm: float | None
    method: str  # "R-CPE: R0", "R-RQ: R0 + R1", or "intercept"
    fit: CircuitFit | None
    notes: tuple[str, ...] = ()

    def source(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def bulk_resistance(f_Hz: Floats, Z: Complexes, circuit: str = "auto") -> BulkResistance:
    """R_b of a blocking cell (stainless steel | electrolyte | stainless steel).

    - No resolved high-frequency arc (the bulk arc lies above the measured range): fit
      R-CPE, R_b = R0.
    - A resolved arc (cold or thick membranes): fit R-RQ to the arc, i.e. the points from
      the highest frequency down to the valley where the electrode spike begins; R_b =
      R0 + R1, the arc's low-frequency real-axis intercept (R0 is then only the leads).
    - R-RQ-W (explicit only): R_b = R0 + R1 on all points.
    ``circuit="auto"`` chooses by :func:`~cyclerctl.analysis.spectrum.find_arc`. Points with
    −Z'' < 0 (lead inductance) are left out. When no fit describes the spectrum, R_b is the
    high-frequency real-axis intercept (:func:`~cyclerctl.analysis.spectrum.hf_intercept`)
    and ``method`` says so. ValueError only when there is no usable point at all.
    """
    f, z = spectrum.clean(f_Hz, Z)
    if f.size == 0:
        raise ValueError("no finite impedance points")
    fc, zc, inductive = spectrum.capacitive(f, z)
    notes: list[str] = [f"{inductive} inductive points (-Z'' < 0) left out"] if inductive else []
    arc = spectrum.find_arc(fc, zc) if fc.size else None
    if circuit == "auto":
        order = ["R-RQ", "R-CPE"] if arc is not None else ["R-CPE"]
    elif circuit in ("R-CPE", "R-RQ", "R-RQ-W"):
        order = [circuit]
    else:
        raise ValueError(f"unknown circuit {circuit!r} for a bulk resistance")
    for name in order:
        ff, zz = (fc[: arc.end + 1], zc[: arc.end + 1]) if name == "R-RQ" and arc else (fc, zc)
        try:
            fit = fit_circuit(ff, zz, name)
        except FitError as exc:
            notes.append(f"{name}: {exc}")
            continue
        terms = ["R0"] if name == "R-CPE" else ["R0", "R1"]
        r_b = sum(fit.parameters[t] for t in terms)
        if fit.rel_rms > MAX_REL_RMS:
            notes.append(f"{name} rejected: relative RMS residual {fit.rel_rms:.3f}")
        elif not 0.0 < r_b <= 2.0 * float(np.abs(zz).max()):
            notes.append(f"{name} rejected: R_b = {r_b:.4g} ohm is outside the spectrum")
        else:
            method = f"{name}: {' + '.join(terms)}"
            return BulkResistance(r_b, fit.sum_error(terms), method, fit, tuple(notes))
    notes.append("no circuit fit; R_b read at the high-frequency real-axis intercept")
    return BulkResistance(spectrum.hf_intercept(f, z), None, "intercept", None, tuple(notes))
