"""Distribution of relaxation times (DRT) by Tikhonov-regularised non-negative least squares.

Model: Z(ω) = R_∞ + jωL + ∫ γ(ln τ) / (1 + jωτ) d ln τ, γ ≥ 0, discretised on a τ grid
log-spaced a decade beyond 1/ω_max … 1/ω_min (piecewise-constant γ, 10 points a decade).
With A the design matrix (both real and imaginary parts, rows weighted 1/|Z|), solve

    min ‖W(Ax − Z)‖² + λ ‖D x‖²,  x = (R_∞, L, γ_1 … γ_K) ≥ 0

with D the second-difference operator on γ (smooth distributions are preferred; R_∞ and L
are not penalised). This is the ridge-regression DRT of Saccoccio, Wan, Chen & Ciucci,
Electrochim. Acta 147 (2014) 470 (second-order penalty), solved as one augmented NNLS with
scipy. λ is an ``[analysis]`` option (``drt_lambda``, default 1e-3); Saccoccio et al.
discuss its choice (too small: spurious peaks, too large: merged ones). pyDRTtools (the
same group's tool) adds radial-basis discretisation and credible intervals, at the cost of
a GUI stack and cvxopt; the peaks and their resistances are what a report needs.

A blocking electrode's spike (a series capacitance) has no relaxation time: it gets a
column of its own (``capacitor``), as in Lin-KK, so it does not smear into γ at long τ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis import spectrum
from cyclerctl.analysis.circuits import Complexes, Floats

DEFAULT_LAMBDA = 1e-3
POINTS_PER_DECADE = 10


@dataclass(frozen=True, slots=True)
class DRT:
    tau_s: Floats
    gamma_ohm: Floats  # γ(ln τ), Ω per unit ln τ
    r_inf_ohm: float
    inductance_H: float
    lam: float
    Z_fit: Complexes
    f_Hz: Floats
    capacitance_F: float | None = None  # the blocking capacitance, when fitted

    @property
    def polarisation_ohm(self) -> float:
        """∫ γ d ln τ: the total resistance of the relaxations."""
        return float(np.sum(self.gamma_ohm) * _dlntau(self.tau_s))

    def peaks(self) -> list[dict[str, float]]:
        """Local maxima of γ (above 5 % of the largest): τ, f = 1/(2πτ), γ."""
        g = self.gamma_ohm
        if g.size < 3 or g.max() <= 0:
            return []
        idx = [
            i
            for i in range(1, g.size - 1)
            if g[i] >= g[i - 1] and g[i] > g[i + 1] and g[i] >= 0.05 * g.max()
        ]
        return [
            {
                "tau_s": float(self.tau_s[i]),
                "f_Hz": float(1.0 / (2 * np.pi * self.tau_s[i])),
                "gamma_ohm": float(g[i]),
            }
            for i in idx
        ]

    def as_data(self) -> dict[str, Any]:
        return {
            "method": "Tikhonov (2nd-order) regularised NNLS, Saccoccio et al. 2014",
            "lambda": self.lam,
            "r_inf_ohm": self.r_inf_ohm,
            "inductance_H": self.inductance_H,
            "series_capacitance_F": self.capacitance_F,
            "polarisation_ohm": self.polarisation_ohm,
            "peaks": self.peaks(),
            "tau_s": self.tau_s.tolist(),
            "gamma_ohm": self.gamma_ohm.tolist(),
        }


def _dlntau(tau: Floats) -> float:
    return float(np.log(tau[1] / tau[0])) if tau.size > 1 else 1.0


def drt(
    f_Hz: Floats, Z: Complexes, lam: float = DEFAULT_LAMBDA, capacitor: bool | None = None
) -> DRT:
    """The DRT of a spectrum (Hz, Ω; Z'' negative where capacitive). ``capacitor``: a series
    capacitance column for a blocking spectrum (None: when −Z'' rises at the low-frequency
    end). ValueError with fewer than five points or a non-positive λ."""
    from scipy.optimize import nnls  # type: ignore[import-untyped]  # slow import

    if not lam > 0:
        raise ValueError(f"the DRT's regularisation λ must be > 0, got {lam}")
    f, z = spectrum.clean(f_Hz, Z)
    if f.size < 5:
        raise ValueError(f"{f.size} points are too few for a DRT")
    omega = 2.0 * np.pi * f
    lo, hi = np.log10(1.0 / omega.max()) - 1.0, np.log10(1.0 / omega.min()) + 1.0
    tau = np.logspace(lo, hi, round(float(hi - lo) * POINTS_PER_DECADE) + 1)
    d = _dlntau(tau)
    kernel = d / (1.0 + 1j * np.outer(omega, tau))
    # the inductance column is scaled so that its coefficient is of the order of |Z|
    l_scale = 1.0 / omega.max()
    if capacitor is None:
        tail = -z.imag[-3:]
        capacitor = bool(tail.size == 3 and np.all(np.diff(tail) > 0) and tail[-1] > 0)
    extra = [np.ones_like(omega), 1j * omega * l_scale]
    if capacitor:  # 1/(jωC), its coefficient 1/C scaled like L's
        extra.append(omega.min() / (1j * omega))
    n_extra = len(extra)
    A = np.column_stack([*extra, kernel])
    w = 1.0 / np.abs(z)
    rows = np.concatenate([(A.real.T * w).T, (A.imag.T * w).T])
    rhs = np.concatenate([z.real * w, z.imag * w])
    k = tau.size
    D = np.zeros((k - 2, k + n_extra))
    for i in range(k - 2):
        D[i, i + n_extra : i + n_extra + 3] = (1.0, -2.0, 1.0)
    # γ / |Z|median: the penalty is on the same scale as the weighted residuals, so λ is
    # dimensionless and the same λ means the same smoothing for a 1 Ω and a 1 MΩ spectrum
    penalty = np.sqrt(lam) * D / float(np.median(np.abs(z)))
    x, _ = nnls(np.vstack([rows, penalty]), np.concatenate([rhs, np.zeros(k - 2)]))
    return DRT(
        tau_s=tau,
        gamma_ohm=x[n_extra:],
        r_inf_ohm=float(x[0]),
        inductance_H=float(x[1] * l_scale),
        lam=lam,
        Z_fit=A @ x,
        f_Hz=f,
        capacitance_F=float(1.0 / (x[2] * omega.min())) if capacitor and x[2] > 0 else None,
    )
