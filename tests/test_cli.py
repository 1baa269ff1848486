"""The command line end to end, in-process (fast) and once as a real subprocess."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cyclerctl.cli import main
from cyclerctl.resources import cells_dir, library_dir

PROTOCOL = (library_dir() / "ncm622-cycling.toml").read_text()
CELL = (cells_dir() / "ncm622-coin.toml").read_text()
SHORT = ["--set", "cycles=2", "--set", "formation_cycles=1"]


def _rows(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as con:
        return {
            t: con.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("runs", "steps", "samples", "events", "results")
        }


def test_validate_and_plan_accept_library_names_and_paths(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "ncm622-cycling", "--cell", "ncm622-coin"]) == 0
    assert "ok" in capsys.readouterr().out
    cell_path = str(cells_dir() / "ncm622-coin.toml")
    assert main(["plan", "ncm622-cycling", "--cell", cell_path, "--set", "cycles=3"]) == 0
    table = capsys.readouterr().out
    assert "formation" in table and "cycling" in table
    assert (
        main(["plan", "ncm622-cycling", "--cell", "ncm622-coin", "--set", "cycles=3", "--json"])
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["estimated_duration_s"] > 0
    assert main(["validate", "ncm622-cycling", "--cell", "ncm622-coin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_protocols_cells_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "--json"]) == 0
    names = [p["name"] for p in json.loads(capsys.readouterr().out)]
    assert "ncm622-cycling" in names
    assert main(["cells"]) == 0
    assert "ncm622-coin" in capsys.readouterr().out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "cccv" in json.dumps(schema)


def test_run_then_runs_and_show(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = in_tmp / "runs.db"
    url = f"sqlite:///{db}"
    code = main(["run", "ncm622-cycling", "--cell", "ncm622-coin", *SHORT, "--db", url, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["run"]["status"] == "completed" and out["run"]["end_reason"] == "completed"
    assert out["run"]["guid"] and out["run"]["id"] == 1
    assert {"first_discharge_capacity_mAh_g", "capacity_retention", "mean_ce"} <= set(
        out["results"]
    )
    assert main(["runs", "--db", url, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in runs] == [1]
    assert main(["show", "1", "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["results"] == out["results"]
    assert main(["show", runs[0]["guid"], "--db", url]) == 0
    assert "completed" in capsys.readouterr().out
    assert main(["show", "99", "--db", url]) == 2


def test_default_database_is_sqlite_in_the_working_directory(in_tmp: Path) -> None:
    assert main(["run", "ncm622-cycling", "--cell", "ncm622-coin", *SHORT, "-q"]) == 0
    assert _rows(in_tmp / "cyclerctl.db")["runs"] == 1


def test_safety_breach_stops_the_run_with_status_and_exit_1(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # charge to 4.3 V with a safety ceiling below it: the limit must trip first
    (in_tmp / "p.toml").write_text(
        PROTOCOL.replace('voltage_max = "4.4 V"', 'voltage_max = "4.1 V"')
    )
    url = f"sqlite:///{in_tmp / 'r.db'}"
    code = main(["run", "p.toml", "--cell", "ncm622-coin", *SHORT, "--db", url, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["run"]["status"] == "safety_stop"
    assert out["run"]["end_reason"] == "safety:voltage_max"
    with sqlite3.connect(in_tmp / "r.db") as con:
        kinds = [k for (k,) in con.execute("select kind from events")]
        vmax = con.execute("select max(V) from samples").fetchone()[0]
    assert "safety" in kinds
    assert 4.1 <= vmax < 4.11  # stopped at the first point past the limit, not later


BAD_PROTOCOLS = {
    "toml syntax": (
        PROTOCOL.replace('name = "ncm622-cycling"', 'name = "ncm622-cycling'),
        "p.toml:",
        None,
    ),
    "unknown step type": (
        PROTOCOL.replace('type = "cc"\n  name = "discharge"', 'type = "ccc"\n  name = "discharge"'),
        "type",
        "ccc",
    ),
    "missing field": (PROTOCOL.replace('  voltage = "{upper}"\n', "", 1), "voltage", None),
    "unknown unit": (
        PROTOCOL.replace('rate = { default = "1C"', 'rate = { default = "5 mA/furlong"'),
        "furlong",
        None,
    ),
    "voltage as current": (
        PROTOCOL.replace('rate = { default = "1C"', 'rate = { default = "4.2 V"'),
        "current",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PROTOCOLS))
def test_bad_protocol_exit_2_names_the_field_writes_nothing(
    case: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, must_say, also = BAD_PROTOCOLS[case]
    assert text != PROTOCOL
    (in_tmp / "p.toml").write_text(text)
    db = in_tmp / "r.db"
    assert main(["db", "upgrade", "--db", f"sqlite:///{db}"]) == 0
    before = _rows(db)
    for command in ("validate", "plan", "run"):
        extra = ["--db", f"sqlite:///{db}"] if command == "run" else []
        assert main([command, "p.toml", "--cell", "ncm622-coin", *extra]) == 2, command
        err = capsys.readouterr().err
        assert err.startswith("p.toml:"), err
        assert must_say in err, err
        if also:
            assert also in err
    assert _rows(db) == before


def test_bad_cell_and_overrides_exit_2_and_write_nothing(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "neg.toml").write_text(CELL.replace('diameter = "12 mm"', 'area = "-1.1 cm^2"'))
    url = f"sqlite:///{in_tmp / 'r.db'}"
    cases = [
        (["--cell", "neg.toml"], "area"),
        (["--cell", "no-such-cell.toml"], "no-such-cell"),
        (["--cell", "ncm622-coin", "--set", "cylces=3"], "cylces"),
        (["--cell", "ncm622-coin", "--set", "cycles=many"], "cycles"),
        (["--cell", "ncm622-coin", "--set", "rate=4 V"], "rate"),
    ]
    for args, must_say in cases:
        assert main(["run", "ncm622-cycling", *args, "--db", url]) == 2, args
        err = capsys.readouterr().err
        assert must_say in err, (args, err)
    assert not (in_tmp / "r.db").exists()


def test_python_dash_m_entry_point(in_tmp: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cyclerctl", "validate", "ncm622-cycling", "--cell", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr
