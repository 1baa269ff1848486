"""The monotone interpolation behind OCV curves."""

from __future__ import annotations

import numpy as np
import pytest

from cyclerctl.drivers.sim.curve import MonotoneCurve

KNOTS_X = [0.0, 0.1, 0.2, 0.5, 0.9, 1.0]
KNOTS_Y = [3.0, 3.6, 3.65, 3.75, 4.1, 4.3]


def test_it_goes_through_its_knots_and_never_overshoots() -> None:
    curve = MonotoneCurve(KNOTS_X, KNOTS_Y)
    assert curve(np.array(KNOTS_X)) == pytest.approx(KNOTS_Y)
    x = np.linspace(0, 1, 10001)
    assert np.all(np.diff(curve(x)) >= 0)


def test_scalar_and_vector_forms_agree() -> None:
    curve = MonotoneCurve(KNOTS_X, KNOTS_Y)
    x = np.linspace(-0.3, 1.3, 97)
    assert curve(x) == pytest.approx([curve.value(float(v)) for v in x])
    h = 1e-6
    slopes = (curve(x + h) - curve(x - h)) / (2 * h)
    assert slopes == pytest.approx([curve.slope(float(v)) for v in x], rel=1e-4, abs=1e-6)


def test_outside_the_knots_it_continues_straight() -> None:
    curve = MonotoneCurve(KNOTS_X, KNOTS_Y)
    top = curve.slope(1.0)
    assert curve.value(1.5) == pytest.approx(4.3 + 0.5 * top)
    assert curve.value(-0.1) == pytest.approx(3.0 - 0.1 * curve.slope(0.0))


def test_it_is_pchip_on_a_case_worked_by_hand() -> None:
    # knot slopes by the weighted harmonic mean: d1 = 6/(3/1 + 3/3) = 1.5, d2 = 6/(3/3 + 3/5)
    # = 3.75; Hermite at s = 0.5: 0.5·1 + 0.125·1.5 + 0.5·4 − 0.125·3.75 = 2.21875
    curve = MonotoneCurve([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 4.0, 9.0])
    assert curve.slope(1.0) == pytest.approx(1.5)
    assert curve.slope(2.0) == pytest.approx(3.75)
    assert curve.value(1.5) == pytest.approx(2.21875)


def test_bad_knots_are_refused() -> None:
    with pytest.raises(ValueError):
        MonotoneCurve([0.0, 1.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError):
        MonotoneCurve([0.0, 1.0, 2.0], [0.0, 2.0, 1.0])
