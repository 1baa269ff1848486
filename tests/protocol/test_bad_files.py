"""Inputs found by tests/faults/test_bad_input.py that once crashed or hung: now refused."""

from __future__ import annotations

import textwrap

import pytest

from cyclerctl.cli import main

from .conftest import MINIMAL, Writer, errors_of


@pytest.mark.parametrize("depth", [33, 5000])  # past the limit; past Python's stack
def test_values_nested_too_deep(write: Writer, depth: int) -> None:
    path = write(MINIMAL + "\n[analysis]\nx = " + "[" * depth + "]" * depth + "\n")
    (error,) = errors_of(path)
    if depth < 1000:  # tomllib parsed it: the line and the key are known
        assert (error.line, error.field) == (23, "analysis.x[1]…")
        assert error.message == "nested more than 32 levels deep"
    else:
        assert (error.line, error.field) == (None, "TOML syntax")
        assert error.message == "values are nested too deeply (at most 32 levels)"


def test_a_file_name_the_os_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    name = "9" * 5000 + " V"  # ENAMETOOLONG from stat(): once an OSError traceback
    assert main(["validate", name, "--cell", name]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1] for line in err] == ["protocol", "cell"]


def test_eis_point_counts_that_would_never_finish(capsys: pytest.CaptureFixture[str]) -> None:
    """points_per_decade = 10**15 made `plan` count every frequency point, for ever."""
    args = ["plan", "eis-conductivity", "--cell", "ss-qse-ss"]
    assert main([*args, "--set", "points_per_decade=1000000000000000"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "steps[2].points_per_decade: points_per_decade must be at most 1000, "
        "got 1000000000000000 (parameter 'points_per_decade')\n"
    )


def test_nested_ramps_multiply(write: Writer) -> None:
    """Two nested 100 000-value ramps are 10**10 iterations: `plan` once hung on them."""
    text = """\
    name = "nested"
    [[steps]]
    type = "loop"
    variable = { name = "a", start = "1 mA", step = "1 mA", stop = "100 A" }
      [[steps.steps]]
      type = "loop"
      variable = { name = "b", start = "1 s", step = "1 s", stop = "100000 s" }
        [[steps.steps.steps]]
        type = "rest"
        until = { time = "{b}" }
    """
    (error,) = errors_of(write(textwrap.dedent(text)))
    assert (error.line, error.field) == (7, "steps[1].steps[1].variable")
    assert error.message == (
        "inside the loops around it this loop runs 10000000000 times; "
        "at most 1000000 iterations in all are allowed"
    )
