"""The DRT of spectra whose relaxations are known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cyclerctl.analysis.drt import drt
from tests.analysis.factory import frequencies, noisy


def two_rc(f: Any) -> Any:
    """10 Ω + (100 Ω ‖ τ = 1 ms) + (50 Ω ‖ τ = 1 s)."""
    w = 2 * np.pi * f
    return np.asarray(10.0 + 100.0 / (1 + 1j * w * 1e-3) + 50.0 / (1 + 1j * w * 1.0))


def test_two_relaxations_are_found_with_their_resistances() -> None:
    f = frequencies(1e5, 0.01)
    d = drt(f, noisy(two_rc(f), 0.002, seed=5))
    peaks = sorted(d.peaks(), key=lambda p: p["gamma_ohm"], reverse=True)[:2]
    taus = sorted(p["tau_s"] for p in peaks)
    assert taus[0] == pytest.approx(1e-3, rel=0.3)
    assert taus[1] == pytest.approx(1.0, rel=0.3)
    assert d.r_inf_ohm == pytest.approx(10.0, rel=0.05)
    assert d.polarisation_ohm == pytest.approx(150.0, rel=0.03)
    assert np.max(np.abs(d.Z_fit - two_rc(d.f_Hz)) / np.abs(two_rc(d.f_Hz))) < 0.02


def test_a_larger_lambda_smooths() -> None:
    f = frequencies(1e5, 0.01)
    Z = noisy(two_rc(f), 0.002, seed=5)
    rough, smooth = drt(f, Z, 1e-5), drt(f, Z, 1.0)
    assert np.abs(np.diff(smooth.gamma_ohm, 2)).sum() < np.abs(np.diff(rough.gamma_ohm, 2)).sum()


def test_lambda_must_be_positive() -> None:
    f = frequencies(1e5, 0.01)
    with pytest.raises(ValueError, match="λ must be > 0"):
        drt(f, two_rc(f), 0.0)
