from __future__ import annotations

import math

import pytest

from cyclerctl.protocol import parse_quantity
from cyclerctl.protocol.units import CURRENT_KINDS, describe_kinds, parse_any, parse_c_rate


@pytest.mark.parametrize(
    ("text", "kind", "si"),
    [
        ("4.2 V", "voltage", 4.2),
        ("-1 mA", "current", -1e-3),
        ("250 µA", "current", 250e-6),
        ("0.5 mA/cm^2", "current_density", 5.0),
        ("10 min", "time", 600.0),
        ("15 h", "time", 54000.0),
        ("100 ms", "time", 0.1),
        ("25 degC", "temperature", 298.15),
        ("175 mAh/g", "specific_capacity", 175 * 3.6 / 1e-3),
        ("1 mg/cm^2", "areal_mass", 0.01),
        ("30 ohm", "resistance", 30.0),
        ("100 kHz", "frequency", 1e5),
        ("1 mV/s", "scan_rate", 1e-3),
        ("12 mm", "length", 0.012),
        ("2 mAh", "charge", 7.2),
        ("1 mAh/cm^2", "areal_charge", 36000.0),
        ("C/10", "c_rate", 0.1),
        ("1C", "c_rate", 1.0),
        ("2 C", "c_rate", 2.0),
        ("0.5C", "c_rate", 0.5),
        ("C/20", "c_rate", 0.05),
    ],
)
def test_parse_quantity_gives_si(text: str, kind: str, si: float) -> None:
    assert math.isclose(parse_quantity(text, kind), si, rel_tol=1e-9)


def test_ah_per_kg_equals_mah_per_g() -> None:
    assert parse_quantity("175 Ah/kg", "specific_capacity") == pytest.approx(
        parse_quantity("175 mAh/g", "specific_capacity")
    )


def test_wrong_dimension_names_what_is_allowed() -> None:
    with pytest.raises(ValueError) as caught:
        parse_any("4.2 V", CURRENT_KINDS)
    assert str(caught.value).startswith(
        "expected a current (A), current density (A/cm^2) or C-rate (C/10), got '4.2 V'"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("5 mA/blorp", "unknown unit 'blorp'"),
        ("5 mA/furlong", "dimension"),  # pint knows furlongs: a current per length
        ("five mA", "expected a current"),
        ("1e999 mA", "out of range"),
        ("5 mA/cm^9**9", "cannot read the unit"),
        ("", "expected a current"),
    ],
)
def test_bad_quantities_say_why(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="expected a current") as caught:
        parse_quantity(text, "current")
    assert fragment in str(caught.value)


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown quantity kind"):
        parse_quantity("1 V", "voltish")


def test_c_rate_forms() -> None:
    assert parse_c_rate("-C/10") == pytest.approx(-0.1)
    assert parse_c_rate("C") == 1.0
    assert parse_c_rate("C/0") is None
    assert parse_c_rate("10 mA") is None


def test_describe_kinds_uses_the_right_article() -> None:
    assert describe_kinds(["areal_charge"]) == "an areal charge (mAh/cm^2)"
    assert describe_kinds(["voltage"]) == "a voltage (V)"
