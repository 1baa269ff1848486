"""Bad input, generated: whatever a protocol, cell, config file or ``--set`` holds, the CLI
accepts it (exit 0) or refuses it with one ``PATH:LINE: field: message`` line per error and
exit code 2 — never a traceback, and never a half-written run in the database.

The inputs are the shipped protocols, cells and config.example.toml, mutated: keys dropped
or duplicated, values replaced by wrong types, odd units, NaN/inf/huge numbers, unicode,
deep nesting, huge loop counts, broken TOML syntax. Hypothesis is derandomized so a
failure replays on every run.
"""

from __future__ import annotations

import math
import re
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from cyclerctl.cli import main
from cyclerctl.resources import cells_dir, library_dir
from tests.support.library import USUAL_CELL

PROTOCOLS = sorted(library_dir().glob("*.toml"))
CELLS = sorted(cells_dir().glob("*.toml"))
CONFIG_EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"

# After the PATH: `:LINE: field: message`, `: field: message`, or `: message`.
ERROR_AFTER_PATH = re.compile(r"^(?::[0-9]+)?: \S.*$")

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- a TOML writer (inline form), enough for any value tomllib gives back -------------------


def _toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[\n" + "".join(f"  {_toml_value(v)},\n" for v in value) + "]"
    assert isinstance(value, dict)
    items = ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items())
    return "{ " + items.replace("\n", " ") + " }"


def to_toml(data: dict[str, Any]) -> str:
    return "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in data.items())


# -- mutations --------------------------------------------------------------------------------

UNITS = [
    "V",
    "mV",
    "A",
    "mA",
    "uA",
    "mA/cm^2",
    "mAh",
    "mAh/cm^2",
    "h",
    "min",
    "s",
    "ms",
    "degC",
    "K",
    "Hz",
    "kHz",
    "mV/s",
    "ohm",
    "mm",
    "mg",
    "C",
    "furlong",
    "µA",
    "Ω",
    "°C",
    "m**99",
    "V^-3",
    "1/s",
    "",
    "mA mA",
    "A*s/V",
]
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 5e-324, 2**63, -(2**63), 10**400]),
)
quantity_strings = st.one_of(
    st.builds(
        lambda n, u, sp: f"{n}{sp}{u}",
        NUMBERS,
        st.sampled_from(UNITS),
        st.sampled_from(["", " ", "  ", "\t"]),
    ),
    st.sampled_from(
        [
            "C/0",
            "C/10",
            "1e999C",
            "0C",
            "-2C",
            "C/-1",
            "{rate}",
            "-{cycles}",
            "{nope}",
            "{",
            "}",
            "{}",
            "ocv",
            "nan V",
            "inf mA",
            "1e99999 mA",
            "1 mA/cm^2/cm^2",
            "10 min min",
            "0 s",
            "-1 h",
            "١٢ V",
            "4.2 V\n",
        ]
    ),
    st.text(max_size=12),
)
scalars = st.one_of(
    NUMBERS,
    st.booleans(),
    quantity_strings,
)


def _nested(depth: int) -> Any:
    value: Any = "1 V"
    for k in range(depth):
        value = [value] if k % 2 else {"a": value}
    return value


values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    st.integers(min_value=1, max_value=400).map(_nested),
    st.sampled_from([10**9, 10**18, 2**64, 99999999999]),  # huge loop counts
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_data(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with one to three values replaced, dropped or duplicated."""
    data = tomllib.loads(to_toml(data))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["replace", "replace", "drop", "duplicate", "rename"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(values)
        elif action == "drop":
            del parent[key]
        elif action == "duplicate":
            if isinstance(parent, list):
                parent.insert(key, parent[key])
            else:
                parent[f"{key}_"] = parent[key]
        else:  # rename a key (a misspelt field), or reverse a list
            if isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(key)
            else:
                parent.reverse()
    return data


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """``text`` with lines duplicated, dropped, or characters inserted (TOML syntax errors,
    duplicate keys), or a value's text replaced where it is written."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(
            st.sampled_from(["duplicate", "drop", "insert", "value", "value", "value", "deep"])
        )
        if action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "drop":
            del lines[i]
        elif action == "insert":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.sampled_from(["[", "]", "{", "}", '"', "=", ",", "\\", "\x00", "é"]))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        else:
            key, sep, _ = lines[i].partition("=")
            if sep and "[" not in key:
                if action == "deep":  # deeper than any recursive parser's stack
                    depth = draw(st.sampled_from([100, 1000, 5000]))
                    opening, closing = draw(st.sampled_from([("[", "]"), ("{a=", "}")]))
                    value = opening * depth + "1" + closing * depth
                else:
                    value = _toml_value(draw(values))
                lines[i] = f"{key}= {value}\n"
    return "".join(lines)


def mutated_file(source: Path) -> st.SearchStrategy[str]:
    """The text of ``source`` mutated as text, or as data written back as TOML."""
    text = source.read_text(encoding="utf-8")
    return st.one_of(mutated_text(text), mutated_data(tomllib.loads(text)).map(to_toml))


#: Every parameter name the shipped protocols declare, and a few they do not.
PARAMETER_NAMES = sorted(
    {name for p in PROTOCOLS for name in tomllib.loads(p.read_text("utf-8")).get("parameters", {})}
    | {"nope", "", " ", "cycles "}
)
set_pairs = st.lists(
    st.one_of(
        st.builds(
            lambda n, v: f"{n}={v}",
            st.sampled_from(PARAMETER_NAMES),
            st.one_of(
                quantity_strings,
                NUMBERS.map(str),
                st.sampled_from(["[1 V, 2 V]", "[]", "[,]", "10**9", "1000000000000"]),
            ),
        ),
        st.text(max_size=10),
    ),
    max_size=3,
)


# -- checks -----------------------------------------------------------------------------------


def check_refused(code: int, err: str, paths: set[str]) -> None:
    """Exit 2 and every stderr line is one error naming one of ``paths``."""
    assert code == 2, err
    lines = err.splitlines()
    assert lines, "a refusal must say why"
    for line in lines:
        path = next((p for p in sorted(paths, key=len, reverse=True) if line.startswith(p)), None)
        assert path is not None, (line, paths)
        assert ERROR_AFTER_PATH.match(line[len(path) :]) is not None, line
        assert "Traceback" not in line


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    if currently_in_test_context():  # the outcome mix, for --hypothesis-show-statistics
        event(f"{argv[0] if argv[0] != '--config' else 'config'}: exit {code}")
    return code, captured.out, captured.err


def _with_sets(argv: list[str], sets: list[str]) -> list[str]:
    for pair in sets:
        argv += [f"--set={pair}"]
    return argv


# -- properties -------------------------------------------------------------------------------


@settings(SETTINGS, max_examples=500)
@given(data=st.data(), source=st.sampled_from(PROTOCOLS), sets=set_pairs)
def test_mutated_protocol_validates_or_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
    source: Path,
    sets: list[str],
) -> None:
    path = tmp_path / "protocol.toml"
    path.write_text(data.draw(mutated_file(source)), encoding="utf-8")
    argv = _with_sets(["validate", str(path), "--cell", USUAL_CELL[source.stem]], sets)
    code, out, err = run_cli(capsys, argv)
    if code == 0:
        assert out.startswith("ok: ") and not err
    else:
        check_refused(code, err, {str(path), "--set"})
        assert not out


@SETTINGS
@given(data=st.data(), source=st.sampled_from(CELLS))
def test_mutated_cell_validates_or_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject, source: Path
) -> None:
    path = tmp_path / "cell.toml"
    path.write_text(data.draw(mutated_file(source)), encoding="utf-8")
    protocol = next((p for p, c in USUAL_CELL.items() if c == source.stem), "eis-conductivity")
    for command in ("validate", "plan"):
        code, out, err = run_cli(capsys, [command, protocol, "--cell", str(path)])
        if code != 0:
            # a cell without a capacity makes the protocol's C-rates unreadable: said there
            check_refused(code, err, {str(path), str(library_dir() / f"{protocol}.toml")})
            assert not out


@SETTINGS
@given(data=st.data())
def test_mutated_config_loads_or_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(data.draw(mutated_file(CONFIG_EXAMPLE)), encoding="utf-8")
    validate = ["validate", "li-li-cycling", "--cell", "li-qse-li", "--config", str(path)]
    code, _, err = run_cli(capsys, validate)
    if code != 0:
        check_refused(code, err, {str(path)})
        return
    # the config loads: checking a protocol against one of its channels must work too
    channel = data.draw(st.sampled_from(["sim:1", "sim:2", "sim:3", "bts:1", ":", ""]))
    code, _, err = run_cli(capsys, [*validate, "--channel", channel])
    if code != 0:
        check_refused(code, err, {str(path), "--channel"})


@settings(SETTINGS, max_examples=25)
@given(data=st.data(), source=st.sampled_from(PROTOCOLS), sets=set_pairs)
def test_bad_run_writes_no_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: st.DataObject,
    source: Path,
    sets: list[str],
) -> None:
    """A run refused for its input leaves the database without a run row."""
    path = tmp_path / "protocol.toml"
    path.write_text(data.draw(mutated_file(source)), encoding="utf-8")
    db = tmp_path / "runs.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        assert run_cli(capsys, ["db", "upgrade", "--db", url])[0] == 0
    argv = _with_sets(["validate", str(path), "--cell", USUAL_CELL[source.stem]], sets)
    if run_cli(capsys, argv)[0] == 0:
        return  # valid: running it would simulate the whole protocol; other tests do that
    run = ["run", str(path), "--cell", USUAL_CELL[source.stem], "--db", url, "-q"]
    code, _, err = run_cli(capsys, _with_sets(run, sets))
    check_refused(code, err, {str(path), "--set"})
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_the_unmutated_library_validates(capsys: pytest.CaptureFixture[str]) -> None:
    """The baseline the mutations start from: every shipped pair validates."""
    for protocol, cell in USUAL_CELL.items():
        code, _, err = run_cli(capsys, ["validate", protocol, "--cell", cell])
        assert (code, err) == (0, ""), (protocol, err)
    assert {p.stem for p in PROTOCOLS} == set(USUAL_CELL)
