"""Bad input gets a clear error, on the right file, line and field, and loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclerctl.protocol import InputError, ProtocolError, load_plan

from .conftest import MINIMAL, Writer, errors_of


def only(errors: list[InputError]) -> InputError:
    assert len(errors) == 1, errors
    return errors[0]


def variant(write: Writer, old: str, new: str) -> Path:
    assert old in MINIMAL
    return write(MINIMAL.replace(old, new, 1))


def test_error_format() -> None:
    error = InputError("p.toml", 12, "steps[1].current", "bad")
    assert str(error) == "p.toml:12: steps[1].current: bad"
    assert str(InputError("--set", None, "cycles", "bad")) == "--set: cycles: bad"
    assert str(ProtocolError([error, error])).splitlines() == [str(error)] * 2
    # a value holding a line break still gives one line per error
    assert str(InputError("p.toml", 3, "name", 'got "a\nb"')) == 'p.toml:3: name: got "a\\nb"'


def test_toml_syntax_error(write: Writer) -> None:
    path = variant(write, 'until = { time = "10 min" }', 'until = { time = "10 min" ')
    error = only(errors_of(path))
    assert (error.path, error.line, error.field) == (str(path), 20, "TOML syntax")


def test_unknown_step_type(write: Writer) -> None:
    path = variant(write, 'type = "rest"', 'type = "pause"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (18, "steps[1].steps[2]")
    assert 'unknown step type "pause"' in error.message
    assert "rest, ocv, cc, cv, cccv, eis, sweep, chamber, loop" in error.message


def test_missing_required_field(write: Writer) -> None:
    path = variant(write, 'current = "{rate}"\n', "")
    error = only(errors_of(path))
    assert (error.line, error.field) == (12, "steps[1].steps[1].current")
    assert error.message == "required field 'current' is missing"


def test_misspelt_field_suggests_the_right_one(write: Writer) -> None:
    path = variant(write, 'direction = "charge"', 'directoin = "charge"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (15, "steps[1].steps[1].directoin")
    assert "did you mean 'direction'?" in error.message


def test_unknown_unit(write: Writer) -> None:
    path = variant(write, 'current = "{rate}"', 'current = "5 mA/blorp"')
    error = only(errors_of(path))
    assert (error.path, error.line, error.field) == (str(path), 14, "steps[1].steps[1].current")
    assert "unknown unit 'blorp'" in error.message


def test_current_per_furlong_is_not_a_current(write: Writer) -> None:
    path = variant(write, 'current = "{rate}"', 'current = "5 mA/furlong"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (14, "steps[1].steps[1].current")
    assert error.message.startswith(
        "expected a current (A), current density (A/cm^2) or C-rate (C/10), got '5 mA/furlong'"
    )


def test_voltage_where_a_current_goes(write: Writer) -> None:
    path = variant(write, 'current = "{rate}"', 'current = "4.2 V"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (14, "steps[1].steps[1].current")
    assert error.message == (
        "expected a current (A), current density (A/cm^2) or C-rate (C/10), got '4.2 V' (a voltage)"
    )


def test_voltage_inside_an_inline_table(write: Writer) -> None:
    path = variant(write, 'voltage_above = "4.2 V"', 'voltage_above = "4.2 mA"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (16, "steps[1].steps[1].until.voltage_above")


def test_negative_area_in_a_cell(write: Writer) -> None:
    cell = write(
        """\
        name = "bad cell"
        chemistry = "NCM622|Li"
        area = "-1.1 cm^2"
        loading = "1 mg/cm^2"
        specific_capacity = "175 mAh/g"
        """,
        "cell.toml",
    )
    error = only(errors_of(write(MINIMAL), cell))
    assert (error.path, error.line, error.field) == (str(cell), 3, "area")
    assert "greater than zero" in error.message


@pytest.mark.parametrize(
    ("body", "line", "field", "fragment"),
    [
        ('diameter = "12 mm"\narea = "1 cm^2"\n', 3, "area", "exactly one"),
        ('chemistry = "Li|Li"\n', None, "area", "exactly one"),
        (
            'area = "1 cm^2"\nspecific_capacity = "175 mAh/g"\n',
            3,
            "specific_capacity",
            "active mass",
        ),
        ('area = "1 cm^2"\nactive_mass = "0 mg"\n', 3, "active_mass", "greater than zero"),
        ('area = "1 cm^2"\nnominal_capacity = "1 V"\n', 3, "nominal_capacity", "expected a charge"),
        ('area = "1 cm^2"\ncolour = "red"\n', 3, "colour", "unknown field"),
    ],
)
def test_cell_errors(write: Writer, body: str, line: int | None, field: str, fragment: str) -> None:
    cell = write(f'name = "c"\n{body}', "cell.toml")
    error = only(errors_of(write(MINIMAL), cell))
    assert (error.line, error.field) == (line, field)
    assert fragment in error.message


def test_c_rate_needs_a_cell_capacity(write: Writer) -> None:
    cell = write('name = "Li|Li"\ndiameter = "16 mm"\n', "li.toml")
    error = only(errors_of(write(MINIMAL), cell))
    assert (error.path, error.line, error.field) == (
        str(write(MINIMAL)),
        14,
        "steps[1].steps[1].current",
    )
    assert "needs the cell's capacity" in error.message


def test_unknown_set_name(write: Writer) -> None:
    error = only(errors_of(write(MINIMAL), cycels="3"))
    assert (error.path, error.line, error.field) == ("--set", None, "cycels")
    assert error.message == "unknown parameter 'cycels'; the parameters are: rate, cycles"
    assert (
        str(error) == "--set: cycels: unknown parameter 'cycels'; the parameters are: rate, cycles"
    )


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("rate", "4.2 V", "expected a current (A), current density (A/cm^2) or C-rate (C/10)"),
        ("rate", "fast", "got 'fast'"),
        ("cycles", "three", "expected a whole number"),
        ("cycles", "0", "below the minimum 1"),
    ],
)
def test_set_value_of_the_wrong_kind(write: Writer, name: str, value: str, fragment: str) -> None:
    error = only(errors_of(write(MINIMAL), **{name: value}))
    assert (error.path, error.line, error.field) == ("--set", None, name)
    assert fragment in error.message


@pytest.mark.parametrize("what", ["protocol", "cell"])
def test_missing_file_or_library_name(write: Writer, what: str) -> None:
    protocol = "no-such-protocol" if what == "protocol" else str(write(MINIMAL))
    cell = "no-such-cell" if what == "cell" else "ncm622-coin"
    error = only(errors_of(protocol, cell))
    assert error.field == what and error.line is None
    assert "is neither a file nor a" in error.message
    assert (
        "ncm622-cycling" if what == "protocol" else "ncm622-coin, ncm622-coin-high-loading"
    ) in (error.message)


def test_both_files_missing_are_both_reported() -> None:
    assert [e.field for e in errors_of("nope.toml", "nada.toml")] == ["protocol", "cell"]


def test_reference_to_an_undefined_parameter(write: Writer) -> None:
    path = variant(write, 'current = "{rate}"', 'current = "{rat}"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (14, "steps[1].steps[1].current")
    assert error.message == "unknown parameter 'rat'; the parameters are: cycles, rate"


def test_reference_inside_a_longer_text(write: Writer) -> None:
    path = variant(write, 'current = "{rate}"', 'current = "{rate} mA"')
    assert "the whole value" in only(errors_of(path)).message


@pytest.mark.parametrize(
    ("count", "fragment"),
    [
        ("0", "loop count must be a positive whole number, got 0"),
        ("-2", "loop count must be a positive whole number, got -2"),
        ("1.5", "expected a whole number or a '{parameter}' reference, got 1.5"),
        ('"three"', "loop count must be a whole number or '{parameter}', got 'three'"),
        ('"{rate}"', "got parameter 'rate' = 'C/10'"),
        ("true", "got true"),
    ],
)
def test_loop_count_not_a_positive_int(write: Writer, count: str, fragment: str) -> None:
    path = variant(write, 'count = "{cycles}"', f"count = {count}")
    error = only(errors_of(path))
    assert (error.line, error.field) == (10, "steps[1].count")
    assert fragment in error.message


def test_loop_count_from_parameter_checked_against_min(write: Writer) -> None:
    path = variant(write, "min = 1 }", "min = -5 }")
    error = only(errors_of(path, cycles="-1"))
    assert (error.line, error.field) == (10, "steps[1].count")
    assert "got -1 (parameter 'cycles')" in error.message


def test_bad_parameter_default(write: Writer) -> None:
    path = variant(write, 'default = "C/10"', 'default = "10 mA/blorp"')
    error = only(errors_of(path))
    assert (error.line, error.field) == (4, "parameters.rate.default")
    assert "unknown unit 'blorp'" in error.message


def test_several_errors_are_collected(write: Writer) -> None:
    text = (
        MINIMAL.replace('current = "{rate}"', 'current = "4.2 V"')
        .replace('time = "10 min"', 'time = "10 furlong"')
        .replace('voltage_above = "4.2 V"', 'voltage_above = "{upper}"')
    )
    errors = errors_of(write(text), cycles="x")
    assert [(e.line, e.field) for e in errors] == [
        (14, "steps[1].steps[1].current"),
        (16, "steps[1].steps[1].until.voltage_above"),
        (20, "steps[1].steps[2].until.time"),
        (None, "cycles"),
    ]


def test_several_structural_errors_are_collected(write: Writer) -> None:
    text = MINIMAL.replace('type = "rest"', 'type = "pause"').replace(
        'direction = "charge"', 'direction = "up"'
    )
    errors = errors_of(write(text))
    assert [(e.line, e.field) for e in errors] == [
        (15, "steps[1].steps[1].direction"),
        (18, "steps[1].steps[2]"),
    ]
    assert errors[0].message == "expected 'charge' or 'discharge', got \"up\""


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "fragment"),
    [
        (
            'until = { time = "10 min" }',
            "",
            18,
            "steps[1].steps[2].until",
            "needs an end condition",
        ),
        (
            'time = "10 min"',
            'time = "0 s"',
            20,
            "steps[1].steps[2].until.time",
            "greater than zero",
        ),
        ('time = "10 min" }', "}", 20, "steps[1].steps[2].until", "needs an end condition"),
        ('name = "minimal"', "", None, "name", "required field 'name' is missing"),
        ('name = "cycling"', "name = 3", 9, "steps[1].name", "expected a string"),
        ('time = "10 min"', "time = 600", 20, "steps[1].steps[2].until.time", 'e.g. "4.2 V"'),
    ],
)
def test_more_bad_inputs(
    write: Writer, old: str, new: str, line: int | None, field: str, fragment: str
) -> None:
    error = only(errors_of(variant(write, old, new)))
    assert (error.line, error.field) == (line, field)
    assert fragment in error.message


def test_safety_and_analysis_errors(write: Writer) -> None:
    text = MINIMAL.replace(
        "[[steps]]",
        '[safety]\nvoltage_max = { value = "4.45 V", fro = "1 s" }\n'
        'voltage_min = "4.5 V"\n\n[analysis]\nformation_loop = "formation"\n\n[[steps]]',
        1,
    )
    errors = errors_of(write(text))
    assert [(e.line, e.field) for e in errors] == [
        (8, "safety.voltage_max.for"),
        (8, "safety.voltage_max.fro"),
    ]
    fixed = text.replace("fro =", "for =")
    errors = errors_of(write(fixed))
    assert [(e.line, e.field) for e in errors] == [
        (9, "safety.voltage_min"),
        (12, "analysis.formation_loop"),
    ]
    assert errors[1].message == "no loop is named 'formation'; the loops are: 'cycling'"


def test_load_plan_raises_only_protocol_errors_for_odd_paths(tmp_path: Path) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    errors = errors_of(str(folder))
    assert errors[0].field == "protocol"
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert errors_of(str(binary))[0].message.startswith("cannot read it")
    with pytest.raises(ProtocolError):
        load_plan("", "")


def test_unknown_set_name_is_reported_with_structural_errors(write: Writer) -> None:
    path = variant(write, 'type = "rest"', 'type = "pause"')
    errors = errors_of(path, cycels="3")
    assert [(e.path, e.field) for e in errors] == [
        (str(path), "steps[1].steps[2]"),
        ("--set", "cycels"),
    ]
