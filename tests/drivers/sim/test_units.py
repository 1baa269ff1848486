"""Reading the [sim] table's quantities."""

from __future__ import annotations

import pytest

from cyclerctl.drivers.sim.units import sim_value, to_si


@pytest.mark.parametrize(
    ("raw", "unit", "si"),
    [
        ("30 ohm", "ohm", 30.0),
        ("30 Ω", "ohm", 30.0),
        ("1.5 kohm", "ohm", 1500.0),
        (30, "ohm", 30.0),
        ("60 s", "s", 60.0),
        ("10 min", "s", 600.0),
        ("0.2 mV", "V", 2e-4),
        ("1 nA", "A", 1e-9),
        ("25 degC", "K", 298.15),
        ("300 K", "K", 300.0),
        (0.998, "", 0.998),
        ("5 %", "", 0.05),
        ("0.03 kiloohm", "ohm", 30.0),  # not in the table: pint reads it
        ("77 degF", "K", 298.15),
    ],
)
def test_quantities_to_si(raw: object, unit: str, si: float) -> None:
    assert to_si(raw, unit) == pytest.approx(si)


def test_the_default_applies_when_the_key_is_missing() -> None:
    assert sim_value({}, "resistance", "30 ohm", "ohm") == 30.0


@pytest.mark.parametrize("raw", ["30 V", "thirty ohm", True, [30], "nan ohm"])
def test_wrong_values_name_the_key(raw: object) -> None:
    with pytest.raises(ValueError, match="\\[sim\\] resistance"):
        sim_value({"resistance": raw}, "resistance", "30 ohm", "ohm")
