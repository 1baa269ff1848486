"""Protocols that would harm a cell, or never end, are refused at validate time."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from pathlib import Path

import pytest

from cyclerctl.cli import main
from cyclerctl.protocol import ChannelLimits, InputError, load_plan
from cyclerctl.protocol.steps import MAX_LOOP_COUNT
from cyclerctl.resources import cells_dir

from .conftest import Writer, errors_of

#: One loop of a CC-CV charge and a CC discharge; each test changes one line of it.
PROTOCOL = """\
name = "harm"

[parameters]
rate = { default = "C/10" }
cycles = { default = 2 }

[safety]
voltage_min = "2.8 V"
voltage_max = "4.4 V"

[[steps]]
type = "loop"
name = "cycling"
count = "{cycles}"

  [[steps.steps]]
  type = "cccv"
  current = "{rate}"
  direction = "charge"
  voltage = "4.2 V"
  until = { current_below = "C/20", time = "15 h" }

  [[steps.steps]]
  type = "cc"
  current = "{rate}"
  direction = "discharge"
  until = { voltage_below = "3.0 V", time = "15 h" }

  [[steps.steps]]
  type = "rest"
  until = { time = "10 min" }
"""
CCCV_LINE, CC_LINE, REST_LINE = 16, 23, 29


def _shipped_cell_without_limits() -> str:
    """The shipped NCM622 coin cell with its own voltage/current limits taken out."""
    text = (cells_dir() / "ncm622-coin.toml").read_text(encoding="utf-8")
    return re.sub(r"(?m)^(voltage_min|voltage_max|current_max) = .*\n", "", text)


def variant(write: Writer, old: str, new: str) -> Path:
    assert old in PROTOCOL, old
    return write(PROTOCOL.replace(old, new, 1))


def only(errors: list[InputError]) -> InputError:
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture
def windowed_cell(write: Writer) -> Path:
    """ncm622-coin with a window of 2.5-4.4 V and |I| ≤ 1 mA."""
    text = _shipped_cell_without_limits()
    window = 'voltage_min = "2.5 V"\nvoltage_max = "4.4 V"\ncurrent_max = "1 mA"\n'
    return write(text.replace("\n[sim]", f"\n{window}\n[sim]", 1), "cell.toml")


def test_the_base_protocol_is_fine(write: Writer, windowed_cell: Path) -> None:
    load_plan(str(write(PROTOCOL)), str(windowed_cell))
    load_plan(str(write(PROTOCOL)), "ncm622-coin")


# -- the cell's voltage window and current ----------------------------------------------------


def test_cv_setpoint_above_the_cells_window(write: Writer, windowed_cell: Path) -> None:
    path = variant(write, 'voltage = "4.2 V"', 'voltage = "4.45 V"')
    error = only(errors_of(path, windowed_cell))
    assert (error.path, error.line, error.field) == (
        str(path),
        CCCV_LINE + 4,
        "steps[1].steps[1].voltage",
    )
    assert "holds 4.45 V, above the voltage_max of the cell" in error.message
    assert error.message.endswith("(4.4 V)")
    load_plan(str(path), "ncm622-coin")  # a cell that declares no window


def test_voltage_condition_below_the_cells_window(write: Writer, windowed_cell: Path) -> None:
    path = variant(write, 'voltage_below = "3.0 V"', 'voltage_below = "2.4 V"')
    error = only(errors_of(path, windowed_cell))
    assert (error.line, error.field) == (CC_LINE + 4, "steps[1].steps[2].until.voltage_below")
    assert "below the voltage_min of the cell" in error.message


def test_safety_window_wider_than_the_cells(write: Writer, windowed_cell: Path) -> None:
    path = variant(write, 'voltage_max = "4.4 V"', 'voltage_max = "4.5 V"')
    error = only(errors_of(path, windowed_cell))
    assert (error.line, error.field) == (9, "safety.voltage_max")
    assert error.message.startswith("4.5 V is above the voltage_max of the cell")
    load_plan(str(path), "ncm622-coin")  # a cell that declares no window


def test_current_above_the_cells_current_max(write: Writer, windowed_cell: Path) -> None:
    errors = errors_of(write(PROTOCOL), windowed_cell, rate="5 mA")
    assert [(e.line, e.field) for e in errors] == [
        (CCCV_LINE + 2, "steps[1].steps[1].current"),
        (CC_LINE + 2, "steps[1].steps[2].current"),
    ]
    assert all("|I| = 5 mA is above the current_max of the cell" in e.message for e in errors)


def test_cell_window_fields_are_checked(write: Writer) -> None:
    text = _shipped_cell_without_limits()
    bad = text.replace(
        "\n[sim]", '\nvoltage_min = "4.3 V"\nvoltage_max = "3 V"\ncurrent_max = "2 V"\n[sim]', 1
    )
    cell = write(bad, "cell.toml")
    errors = errors_of(write(PROTOCOL), cell)
    assert [(e.path, e.field) for e in errors] == [
        (str(cell), "voltage_min"),
        (str(cell), "current_max"),
    ]
    assert errors[0].message == "voltage_min must be below voltage_max"
    assert "expected a current" in errors[1].message


def test_cell_current_max_as_a_c_rate(write: Writer) -> None:
    text = _shipped_cell_without_limits()
    cell = write(text.replace("\n[sim]", '\ncurrent_max = "1C"\n[sim]', 1), "cell.toml")
    load_plan(str(write(PROTOCOL)), str(cell), {"rate": "1C"})
    errors = errors_of(write(PROTOCOL), cell, rate="2C")
    assert len(errors) == 2 and "is above the current_max of the cell" in errors[0].message


# -- the protocol's own safety window ---------------------------------------------------------


def test_a_step_past_the_protocols_own_safety_window_is_allowed(write: Writer) -> None:
    """Tripping the protocol's own limit on purpose is how a lab tests its safety stops."""
    path = variant(write, 'voltage_max = "4.4 V"', 'voltage_max = "4.1 V"\ncurrent_max = "1 uA"')
    plan = load_plan(str(path), "ncm622-coin")
    assert plan.steps[0].voltage_V == 4.2


# -- steps that never end, or end at once -----------------------------------------------------


def test_cv_step_without_a_current_or_time_cutoff(write: Writer) -> None:
    path = variant(
        write,
        'type = "rest"\n  until = { time = "10 min" }',
        'type = "cv"\n  voltage = "4.2 V"\n  until = { voltage_above = "4.3 V" }',
    )
    error = only(errors_of(path))
    assert (error.line, error.field) == (REST_LINE + 3, "steps[1].steps[3].until")
    assert error.message.startswith("a cv step holds the voltage, so only current_below")


def test_cv_step_with_no_until_at_all(write: Writer) -> None:
    path = variant(
        write, 'type = "rest"\n  until = { time = "10 min" }', 'type = "cv"\n  voltage = "4.2 V"'
    )
    error = only(errors_of(path))
    assert error.field == "steps[1].steps[3].until"
    assert "needs an end condition" in error.message


def test_cc_charge_waiting_for_the_voltage_to_fall(write: Writer) -> None:
    path = variant(
        write,
        'direction = "discharge"\n  until = { voltage_below = "3.0 V", time = "15 h" }',
        'direction = "charge"\n  until = { voltage_below = "3.0 V" }',
    )
    error = only(errors_of(path))
    assert (error.line, error.field) == (CC_LINE + 4, "steps[1].steps[2].until")
    assert error.message.startswith(
        "the step can never end: charging (I > 0) raises the voltage, so voltage_below"
    )


def test_cc_at_zero_current_waiting_for_charge(write: Writer) -> None:
    path = variant(
        write,
        'until = { voltage_below = "3.0 V", time = "15 h" }',
        'until = { charge = "1 mAh" }',
    )
    error = only(errors_of(path, rate="0 mA"))
    assert "at zero current no voltage or charge condition can be met" in error.message
    load_plan(str(path), "ncm622-coin")  # at C/10 the charge is reached


def test_cc_whose_current_cutoff_is_met_at_once(write: Writer) -> None:
    path = variant(write, 'voltage_below = "3.0 V", time', 'current_below = "1 mA", time')
    error = only(errors_of(path))  # C/10 of this cell is about 0.02 mA
    assert error.field == "steps[1].steps[2].until.current_below"
    assert error.message.endswith("the step would end the moment it starts")


def test_rest_that_ends_at_once_or_never(write: Writer) -> None:
    at_once = variant(write, 'until = { time = "10 min" }', 'until = { current_below = "1 uA" }')
    error = only(errors_of(at_once))
    assert error.field == "steps[1].steps[3].until.current_below"
    assert "no current flows at rest" in error.message
    never = variant(write, 'until = { time = "10 min" }', 'until = { charge = "1 mAh" }')
    error = only(errors_of(never))
    assert error.field == "steps[1].steps[3].until"
    assert "charge cannot end it" in error.message


def test_ramped_cutoff_is_judged_per_iteration(write: Writer) -> None:
    ramp = """\
    name = "ramp"
    [[steps]]
    type = "loop"
    variable = { name = "j", start = "0.1 mA/cm^2", step = "0.1 mA/cm^2", stop = "1 mA/cm^2" }
      [[steps.steps]]
      type = "cc"
      current = "{j}"
      until = { current_below = "{j}", voltage_above = "4.2 V" }
    """
    load_plan(str(write(textwrap.dedent(ramp))), "ncm622-coin")  # |I| never below itself
    flipped = textwrap.dedent(ramp).replace('current = "{j}"', 'current = "-{j}"')
    error = only(errors_of(write(flipped)))
    assert "discharging (I < 0) lowers the voltage" in error.message


def test_loop_count_that_never_ends(write: Writer) -> None:
    errors = errors_of(write(PROTOCOL), cycles=str(MAX_LOOP_COUNT + 1))
    error = only(errors)
    assert (error.line, error.field) == (14, "steps[1].count")
    assert error.message == (
        f"loop count must be at most {MAX_LOOP_COUNT}, got {MAX_LOOP_COUNT + 1} "
        "(parameter 'cycles')"
    )
    error = only(errors_of(variant(write, 'count = "{cycles}"', "count = 99999999999999999999")))
    assert error.field == "steps[1].count"
    load_plan(str(write(PROTOCOL)), "ncm622-coin", {"cycles": str(MAX_LOOP_COUNT)})


# -- the channel: config hard limits and the driver's range -----------------------------------


def test_channel_limits_refuse_a_current_out_of_range(write: Writer) -> None:
    channel = ChannelLimits("bts:3", current_max_A=1e-5, voltage_max_V=4.25, source="lab.toml")
    with pytest.raises(Exception) as caught:
        load_plan(str(write(PROTOCOL)), "ncm622-coin", channel=channel)
    errors = caught.value.errors  # type: ignore[attr-defined]
    assert [e.field for e in errors] == ["steps[1].steps[1].current", "steps[1].steps[2].current"]
    assert errors[0].message.startswith("|I| = 0.01979 mA is above the current_max of channel")
    assert "(0.01 mA; lab.toml)" in errors[0].message
    wide = ChannelLimits("bts:3", current_max_A=1.0, voltage_max_V=4.1)
    with pytest.raises(Exception) as caught:
        load_plan(str(write(PROTOCOL)), "ncm622-coin", channel=wide)
    (error,) = caught.value.errors  # type: ignore[attr-defined]
    assert error.field == "steps[1].steps[1].voltage"
    assert "above the voltage_max of channel bts:3 (4.1 V)" in error.message


LAB = """\
[[instruments]]
name = "sim"
driver = "sim"
channels = 2
[instruments.limits]
voltage_max = "4.45 V"
current_max = "10 mA"

[[instruments]]
name = "bts"
driver = "neware"
address = "127.0.0.1:1"
[instruments.limits]
current_max = "20 mA"
"""


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_cli_validate_for_a_channel(
    write: Writer, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    lab = write(LAB, "lab.toml")
    args = [command, "ccd-ramp", "--cell", "li-qse-li", "--config", str(lab)]
    assert main([*args, "--channel", "sim:2"]) == 0
    capsys.readouterr()
    # 10 mA/cm² on this 12 mm cell is 11.3 mA: above the config's 10 mA for sim, not for bts
    assert main([*args, "--channel", "sim:2", "--set", "max=10 mA/cm^2"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].endswith(
        "ccd-ramp.toml:32: steps[1].steps[1].current: |I| = 11.31 mA is above the current_max "
        f"of channel sim:2 (10 mA; {lab}: instrument 'sim' limits and the sim driver's range)"
    )
    assert main([*args, "--channel", "bts:1", "--set", "max=10 mA/cm^2"]) == 0
    capsys.readouterr()
    # the sim driver's own range (100 mA) applies even where the config sets none
    write(LAB.replace('current_max = "10 mA"\n', "", 1), "lab.toml")
    assert main([*args, "--channel", "sim:1", "--set", "max=100 mA/cm^2"]) == 2
    assert "(100 mA; " in capsys.readouterr().err
    # a cell the simulator cannot build is said so, not a traceback
    cell = write(
        (cells_dir() / "li-qse-li.toml").read_text().replace('model = "li-li"', 'model = "x"'),
        "cell.toml",
    )
    args[3] = str(cell)
    assert main([*args, "--channel", "sim:1"]) == 2
    assert "--channel: sim:1: cell 'Li|QSE|Li" in capsys.readouterr().err


def test_cli_channel_needs_a_config_that_names_it(
    write: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["validate", "ccd-ramp", "--cell", "li-qse-li", "--channel", "sim:9"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "--channel: 'sim:9': give the config that names it (--config lab.toml)\n"
    )
    lab = write(LAB, "lab.toml")
    assert main([*args, "--config", str(lab)]) == 2
    assert capsys.readouterr().err == (
        f"--channel: 'sim:9' is not a channel of {lab}; the channels are: sim:1, sim:2, bts:1\n"
    )


def test_a_refused_run_writes_nothing(
    write: Writer, windowed_cell: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = variant(write, 'voltage = "4.2 V"', 'voltage = "4.45 V"')
    db = path.parent / "runs.db"
    url = f"sqlite:///{db}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["run", str(path), "--cell", str(windowed_cell), "--db", url, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:{CCCV_LINE + 4}: steps[1].steps[1].voltage: the step holds")
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_submit_refuses_what_the_channel_does_not_allow_and_queues_nothing(
    write: Writer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = write(LAB, "lab.toml")
    db = tmp_path / "runs.db"
    args = [
        "submit",
        "ccd-ramp",
        "--cell",
        "li-qse-li",
        "--channel",
        "sim:1",
        "--db",
        f"sqlite:///{db}",
    ]
    assert main(["--config", str(lab), *args, "--set", "max=10 mA/cm^2"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"ccd-ramp\.toml:\d+: ", err) and "10 mA" in err, err
    assert not db.exists() or sqlite3.connect(db).execute(
        "SELECT count(*) FROM runs"
    ).fetchone() == (0,)
    assert main(["--config", str(lab), *args]) == 0  # within the limits: queued
    assert sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone() == (1,)
