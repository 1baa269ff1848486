"""Loops with a variable: a current-density ramp compiles to Refs that bind per iteration."""

from __future__ import annotations

import pytest

from cyclerctl.plan import Loop, Ref
from cyclerctl.protocol import load_plan

from .conftest import Writer, errors_of

RAMP = """\
name = "ccd"
description = "critical current density: plate/strip at rising current density"

[parameters]
stop = { default = "5 mA/cm^2" }

[[steps]]
type = "loop"
name = "ramp"
variable = { name = "j", start = "0.1 mA/cm^2", step = "0.1 mA/cm^2", stop = "{stop}" }

  [[steps.steps]]
  type = "cc"
  name = "plate"
  current = "-{j}"
  until = { time = "1 h", short = true }

  [[steps.steps]]
  type = "cc"
  name = "strip"
  current = "{j}"
  direction = "charge"
  until = { time = "1 h", current_below = "{j}", short = true }
"""


def test_ramp_produces_refs_that_bind(write: Writer) -> None:
    plan = load_plan(str(write(RAMP)), "ncm622-coin")
    area = plan.cell.area_m2
    (loop,) = plan.body
    assert isinstance(loop, Loop)
    assert (loop.name, loop.variable, loop.count) == ("ramp", "j", 50)
    assert len(loop.values) == 50
    assert loop.values[0] == pytest.approx(1.0)  # 0.1 mA/cm² = 1 A/m²
    assert loop.values[-1] == pytest.approx(50.0)
    assert loop.counts_cycles

    plate, strip = plan.steps
    assert plate.current_A == Ref("j", pytest.approx(-area))  # type: ignore[arg-type]
    assert isinstance(strip.current_A, Ref) and strip.current_A.factor == pytest.approx(area)
    assert not plate.is_bound and plate.c_rate is None

    bound = plate.bind({"j": loop.values[4]})  # 0.5 mA/cm²
    assert bound.is_bound
    assert bound.current_A == pytest.approx(-0.5e-3 * area * 1e4)
    strip_bound = strip.bind({"j": loop.values[-1]})
    assert strip_bound.current_A == pytest.approx(5e-3 * area * 1e4)
    cutoff = strip_bound.condition("current_below")
    assert cutoff is not None and cutoff.value == pytest.approx(5e-3 * area * 1e4)
    assert plan.estimated_duration_s == pytest.approx(50 * 2 * 3600)


def test_ramp_stop_is_inclusive_within_rounding(write: Writer) -> None:
    plan = load_plan(str(write(RAMP)), "ncm622-coin", {"stop": "0.7 mA/cm^2"})
    loop = plan.body[0]
    assert isinstance(loop, Loop) and loop.count == 7
    assert loop.values[-1] == pytest.approx(7.0)


def test_c_rate_ramp_binds_through_the_capacity(write: Writer) -> None:
    text = RAMP.replace('"0.1 mA/cm^2"', '"C/10"', 1).replace(
        'step = "0.1 mA/cm^2"', 'step = "C/10"'
    )
    plan = load_plan(str(write(text)), "ncm622-coin", {"stop": "1C"})
    loop = plan.body[0]
    assert isinstance(loop, Loop) and loop.count == 10
    capacity = plan.cell.nominal_capacity_Ah
    assert capacity is not None
    assert plan.steps[1].bind({"j": loop.values[-1]}).current_A == pytest.approx(capacity)


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "fragment"),
    [
        (
            'step = "0.1 mA/cm^2"',
            'step = "0 mA/cm^2"',
            10,
            "steps[1].variable.step",
            "cannot be zero",
        ),
        (
            'step = "0.1 mA/cm^2"',
            'step = "-0.1 mA/cm^2"',
            10,
            "steps[1].variable.stop",
            "cannot be reached",
        ),
        (
            'step = "0.1 mA/cm^2"',
            'step = "0.1 mA"',
            10,
            "steps[1].variable.step",
            "expected a current density",
        ),
        (
            'current = "-{j}"',
            'current = "{k}"',
            15,
            "steps[1].steps[1].current",
            "loop variables here: j",
        ),
        (
            'time = "1 h", short',
            'time = "{j}", short',
            16,
            "steps[1].steps[1].until.time",
            "is a current density",
        ),
        ('name = "j"', 'name = "stop"', 10, "steps[1].variable.name", "already a parameter"),
        ('name = "j"', 'name = "2j"', 10, "steps[1].variable.name", "letters, digits and _"),
    ],
)
def test_ramp_errors(
    write: Writer, old: str, new: str, line: int, field: str, fragment: str
) -> None:
    errors = errors_of(write(RAMP.replace(old, new, 1)))
    assert [(e.line, e.field) for e in errors][:1] == [(line, field)]
    assert fragment in errors[0].message


def test_loop_variable_cannot_be_used_outside_values_that_follow_it(write: Writer) -> None:
    text = RAMP + '\n  [[steps.steps]]\n  type = "eis"\n  f_start = "1 kHz"\n  f_stop = "1 Hz"\n'
    text += '  amplitude = "{j}"\n  mode = "galvanostatic"\n'
    (error,) = errors_of(write(text))
    assert (error.line, error.field) == (29, "steps[1].steps[3].amplitude")
    assert "can set currents, voltages and end conditions only" in error.message


def test_ramp_with_count_is_an_error(write: Writer) -> None:
    text = RAMP.replace('name = "ramp"', 'name = "ramp"\ncount = 3')
    (error,) = errors_of(write(text))
    assert (error.line, error.field) == (10, "steps[1].count")
