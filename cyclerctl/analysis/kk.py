"""Kramers–Kronig validity of an impedance spectrum by the Lin-KK test.

Method (Schönleber, Klotz & Ivers-Tiffée, Electrochim. Acta 131 (2014) 20): fit the
spectrum with a series of M Voigt elements R_k/(1 + jωτ_k), τ_k log-spaced from 1/ω_max to
1/ω_min, plus a series resistance, a series inductance and (for a blocking spectrum whose
−Z'' keeps rising) a series capacitance. Every such circuit obeys the Kramers–Kronig
relations, and the fit is *linear* in R_k, so it is one weighted least-squares solve
(weights 1/|Z|, real and imaginary parts together). M grows until the share of negative
R_k, μ = 1 − Σ|R_k<0| / Σ|R_k≥0|, falls below ``c`` = 0.85 (over-fitting starts when
negative elements appear). M starts at two per decade of frequency, not at 1 as in
impedance.py: on a coarser τ grid μ also falls below c, from a sign-alternating *under*-fit
(a clean R‖CPE arc over six decades stops at M = 6 with 15 % residuals; from 12 it stops
at M = 21 with 0.4 %; ZPlot's Circuit1_EIS_1.z: 26 % at M = 4, 1.0 % at M = 10). The
residuals

    Δ' = (Z' − Z'_KK) / |Z|,   Δ'' = (Z'' − Z''_KK) / |Z|

scatter around zero within the noise on a valid spectrum; drift, non-stationarity or
non-linearity show as a trend of a few % or more. For a given M, the same test is impedance.py's
``impedance.validation.linKK(f, Z, c=0.85, max_M=50, fit_type='complex', add_cap=...)``
(Murbach et al., JOSS 5 (2020) 2349); we solve it here in a few lines of numpy rather than
import impedance.py (and its altair/plotting dependencies) at run time, and the tests check
the two agree on the measured spectra in ``../shared/data/eis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclerctl.analysis import spectrum
from cyclerctl.analysis.circuits import Complexes, Floats

#: μ threshold of the Lin-KK test (Schönleber et al. 2014 use 0.85).
MU_CRITERION = 0.85
MAX_ELEMENTS = 50
#: The search for M starts at this many Voigt elements per decade of frequency.
ELEMENTS_PER_DECADE = 2.0
#: A spectrum passes when no residual exceeds this. Good potentiostat data stay within ~1 %
#: (EC-Lab's peis.issue_149: 1.0 %); 5 % leaves room for a noisy decade at the ends and
#: still flags drift or a non-linear response (exampleData.csv at 3 mHz: 10 %).
MAX_RESIDUAL = 0.05


@dataclass(frozen=True, slots=True)
class KKCheck:
    """The Lin-KK fit of one spectrum and its residuals, highest frequency first."""

    f_Hz: Floats
    Z: Complexes
    Z_fit: Complexes
    residual_real: Floats
    residual_imag: Floats
    elements: int  # M
    mu: float
    capacitor: bool

    @property
    def max_abs_residual(self) -> float:
        return float(max(np.abs(self.residual_real).max(), np.abs(self.residual_imag).max()))

    @property
    def rms_residual(self) -> float:
        both = np.concatenate([self.residual_real, self.residual_imag])
        return float(math.sqrt(float(np.mean(both**2))))

    @property
    def valid(self) -> bool:
        return self.max_abs_residual <= MAX_RESIDUAL

    def as_data(self) -> dict[str, Any]:
        return {
            "method": "Lin-KK (Schönleber 2014), weights 1/|Z|, complex fit",
            "elements": self.elements,
            "mu": self.mu,
            "mu_criterion": MU_CRITERION,
            "series_capacitor": self.capacitor,
            "max_abs_residual": self.max_abs_residual,
            "rms_residual": self.rms_residual,
            "max_residual_allowed": MAX_RESIDUAL,
            "valid": self.valid,
            "f_Hz": self.f_Hz.tolist(),
            "residual_real": self.residual_real.tolist(),
            "residual_imag": self.residual_imag.tolist(),
        }


def _design(omega: Floats, tau: Floats, capacitor: bool) -> Complexes:
    """Columns: R_inf, the M Voigt elements, L (jω), and 1/(jωC) as 1/(jω) times 1/C."""
    cols: list[Any] = [np.ones_like(omega, dtype=np.complex128)]
    cols += [1.0 / (1.0 + 1j * omega * t) for t in tau]
    cols.append(1j * omega)
    if capacitor:
        cols.append(1.0 / (1j * omega))
    return np.stack(cols, axis=1)


def _solve(omega: Floats, z: Complexes, M: int, capacitor: bool) -> tuple[Floats, Complexes]:
    tau = np.logspace(np.log10(1.0 / omega.max()), np.log10(1.0 / omega.min()), M)
    A = _design(omega, tau, capacitor)
    w = 1.0 / np.abs(z)
    Aw = np.concatenate([(A.real.T * w).T, (A.imag.T * w).T])
    bw = np.concatenate([z.real * w, z.imag * w])
    x, *_ = np.linalg.lstsq(Aw, bw, rcond=None)
    return x, A @ x


def lin_kk(
    f_Hz: Floats, Z: Complexes, c: float = MU_CRITERION, capacitor: bool | None = None
) -> KKCheck:
    """Lin-KK test of a spectrum (Hz, Ω, Z'' negative where capacitive).

    ``capacitor``: add a series capacitance (a blocking electrode's spike); None decides
    from the data (−Z'' rising towards the lowest frequency). ValueError with fewer than
    five finite points.
    """
    f, z = spectrum.clean(f_Hz, Z)
    if f.size < 5:
        raise ValueError(f"{f.size} points are too few for a Kramers–Kronig check")
    omega = 2.0 * np.pi * f
    if capacitor is None:
        tail = -z.imag[-3:]
        capacitor = bool(tail.size == 3 and np.all(np.diff(tail) > 0) and tail[-1] > 0)
    max_M = min(MAX_ELEMENTS, max(3, f.size - 3))
    decades = float(np.log10(f.max() / f.min()))
    first_M = min(max_M, max(3, math.ceil(ELEMENTS_PER_DECADE * decades)))
    chosen: tuple[int, float, Complexes] | None = None
    for M in range(first_M, max_M + 1):
        x, zfit = _solve(omega, z, M, capacitor)
        r = x[1 : M + 1]
        positive = float(np.abs(r[r >= 0]).sum())
        mu = 1.0 - float(np.abs(r[r < 0]).sum()) / positive if positive > 0 else 0.0
        chosen = (M, mu, zfit)
        if mu <= c:
            break
    if chosen is None:  # unreachable: the loop runs at least once (max_M ≥ 3)
        raise ValueError("no Lin-KK fit")
    M, mu, zfit = chosen
    mod = np.abs(z)
    return KKCheck(
        f_Hz=f,
        Z=z,
        Z_fit=zfit,
        residual_real=(z.real - zfit.real) / mod,
        residual_imag=(z.imag - zfit.imag) / mod,
        elements=M,
        mu=mu,
        capacitor=capacitor,
    )


def check_or_none(f_Hz: Floats, Z: Complexes) -> KKCheck | None:
    """:func:`lin_kk`, or None when the spectrum is too short to check."""
    try:
        return lin_kk(f_Hz, Z)
    except (ValueError, np.linalg.LinAlgError):
        return None


def note(check: KKCheck | None) -> str | None:
    """A fit note when the spectrum fails the check (None when it passes or was not checked)."""
    if check is None or check.valid:
        return None
    return (
        f"Lin-KK residuals up to {check.max_abs_residual:.1%} (> {MAX_RESIDUAL:.0%}): the "
        "spectrum is not Kramers-Kronig consistent (drift, noise or non-linearity); "
        "read the fit with care"
    )
