"""Every shipped protocol on its shipped cell, with the simulator's realistic defaults (real
OCVs, first-cycle losses, diffusion tails): it runs to its end with no safety stop. And
every [safety] limit of every shipped protocol still trips when the cell really goes past
it: a cut-off set past the window, a cell whose interfaces have passivated, a Cu driven into
oxidation, a chamber that overshoots, a cell that is not what its file says.

A simulator kinder than a real cell hides protocol bugs: with a fresh Li|Cu cell at 1.0 V
instead of its real 2.8 V, li-cu-ce's old 1.5 V safety maximum passed here and stopped a
real cell at its first point. Runs go through the CLI (`cyclerctl run … --json`), in virtual
time, with --set shortening cycle counts where the protocol repeats itself (the whole file
takes ~17 s on one core).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cyclerctl.cli import main
from cyclerctl.resources import cells_dir, library_dir

#: protocol → (the shipped cells it is meant for, --set overrides that keep the run short)
SHIPPED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ccd-ramp": (("li-qse-li",), ()),
    "eis-arrhenius": (("ss-qse-ss",), ("temperatures=30 degC, 60 degC", "soak=5 min")),
    "eis-conductivity": (("ss-qse-ss",), ()),
    "lco-rate": (("lco-coin",), ("rates=0.1C, 1C", "cycles_per_rate=1")),
    "li-cu-ce": (("li-qse-cu",), ("cycles=3",)),
    "li-cu-nucleation": (("li-qse-cu",), ()),
    "li-li-cycling": (("li-qse-li",), ("cycles=3",)),
    "lsv-window": (("li-qse-ss",), ()),
    "ncm622-cycling": (("ncm622-coin", "ncm622-coin-high-loading"), ("cycles=2",)),
    "transference-bruce-vincent": (("li-qse-li",), ()),
}
#: Shipped cells whose simulator model is an optional extra: run where it is installed
#: (tests/drivers/sim/test_pybamm_model.py runs ncm622-cycling on it), not here.
EXTRA_MODEL_CELLS = {"ncm622-pybamm": "pybamm"}
#: The end a protocol reaches on a healthy cell, where it is not "completed".
EXPECTED_END = {"ccd-ramp": "short"}  # the ramp runs until the cell shorts, by design


def _run(
    capsys: pytest.CaptureFixture[str], tmp: Path, protocol: str, cell: str, *sets: str
) -> tuple[int, dict[str, Any]]:
    args = ["run", protocol, "--cell", cell, "--db", f"sqlite:///{tmp / 'runs.db'}", "--json"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out)


def _safety_events(tmp: Path, run_id: int) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp / "runs.db") as con:
        rows = con.execute(
            "select kind, message from events where run_id = ? and kind = 'safety'", (run_id,)
        ).fetchall()
    return [(str(kind), str(message)) for kind, message in rows]


def _variant(tmp: Path, directory: Path, name: str, replace: dict[str, str]) -> str:
    """A copy of a shipped protocol or cell file with some text replaced."""
    text = (directory / f"{name}.toml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / f"{name}-variant.toml"
    path.write_text(text)
    return str(path)


def _cell(tmp: Path, name: str, replace: dict[str, str]) -> str:
    """A shipped cell with some lines of its [sim] table replaced."""
    return _variant(tmp, cells_dir(), name, replace)


def test_every_shipped_protocol_and_cell_is_covered() -> None:
    protocols = {p.stem for p in library_dir().glob("*.toml")}
    assert protocols == set(SHIPPED)
    cells = {c.stem for c in cells_dir().glob("*.toml")} - set(EXTRA_MODEL_CELLS)
    assert cells == {c for names, _ in SHIPPED.values() for c in names}


CASES = [
    pytest.param(protocol, cell, sets, id=f"{protocol}-on-{cell}")
    for protocol, (cells, sets) in SHIPPED.items()
    for cell in cells
]


@pytest.mark.parametrize(("protocol", "cell", "sets"), CASES)
def test_a_shipped_protocol_runs_to_its_end_on_a_realistic_cell(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    protocol: str,
    cell: str,
    sets: tuple[str, ...],
) -> None:
    code, out = _run(capsys, in_tmp, protocol, cell, *sets)
    run = out["run"]
    assert code == 0, out
    assert run["status"] == "completed", run
    assert run["end_reason"] == EXPECTED_END.get(protocol, "completed"), run
    assert _safety_events(in_tmp, int(run["id"])) == []
    # and the analysis found what the protocol exists for
    assert {k: v for k, v in out["results"].items() if v is not None}, out["results"]


def test_li_cu_ce_on_a_realistic_cell_shows_its_first_cycle_loss(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "li-cu-ce", "li-qse-cu", "cycles=3")
    assert code == 0, out
    assert out["results"]["ce_avg"] == pytest.approx(0.98, abs=0.002)
    with sqlite3.connect(in_tmp / "runs.db") as con:
        rows = dict(
            con.execute(
                "select name, charge_Ah + discharge_Ah from steps where run_id = ? and name in "
                "('SEI formation', 'conditioning plate', 'conditioning strip')",
                (out["run"]["id"],),
            ).fetchall()
        )
    # the fresh cell rested at ~2.8 V (inside the 3.2 V safety maximum), formed its SEI on
    # the way to 0 V, and that charge never came back: the first cycle's CE, counted from
    # the OCV, is well below the later cycles' 0.98
    first_ce = rows["conditioning strip"] / (rows["SEI formation"] + rows["conditioning plate"])
    assert first_ce == pytest.approx(0.98 * 5.0 / 5.1, abs=0.003)
    assert first_ce < 0.97


def test_ncm622_formation_shows_its_first_cycle_loss(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, in_tmp, "ncm622-cycling", "ncm622-coin", "cycles=1")
    assert code == 0, out
    with sqlite3.connect(in_tmp / "runs.db") as con:
        charges = [
            row[0]
            for row in con.execute(
                "select charge_Ah from steps where run_id = ? and charge_Ah > 0 order by step",
                (out["run"]["id"],),
            )
        ]
        discharges = [
            row[0]
            for row in con.execute(
                "select discharge_Ah from steps where run_id = ? and discharge_Ah > 0 "
                "order by step",
                (out["run"]["id"],),
            )
        ]
    ces = [d / c for c, d in zip(charges, discharges, strict=True)]
    assert ces[0] == pytest.approx(0.88, abs=0.01)  # NCM622 half cells: 0.86–0.89
    assert ces[1:] == pytest.approx([0.998] * (len(ces) - 1), abs=0.002)


# -- every safety limit still trips -----------------------------------------------------------

CellSpec = str | tuple[str, dict[str, str]]
#: a Li|Li cell whose interfaces have passivated: 2 × 20 000 Ω·cm², volts at 0.1 mA/cm²
LI_LI_PASSIVATED: CellSpec = (
    "li-qse-li",
    {'interface_resistance = "50 ohm cm^2"': 'interface_resistance = "20000 ohm cm^2"'},
)
#: a Li|Cu cell whose electrolyte has dried out: 3 kΩ, −1.7 V to plate at 0.5 mA/cm²
LI_CU_DRIED_OUT: CellSpec = ("li-qse-cu", {"seed = 501": 'seed = 501\nresistance = "3 kohm"'})


def _sim_line(name: str, seed: str, line: str) -> CellSpec:
    return (name, {seed: f"{seed}\n{line}"})


#: the plate-first twin of a Li|Li protocol: the same window, the negative side met first
PLATE_FIRST = {
    'direction = "charge"': 'direction = "PLATE"',
    'direction = "discharge"': 'direction = "charge"',
}
SWAP_BACK = {'direction = "PLATE"': 'direction = "discharge"'}

TRIPS = [
    # protocol, limit that must trip, cell (name or (name, seed line, extra [sim])), --set,
    # and protocol text replaced (to meet the other side of a symmetric protocol's window)
    ("ccd-ramp", "voltage_max", LI_LI_PASSIVATED, (), {}),
    ("ccd-ramp", "voltage_min", LI_LI_PASSIVATED, (), PLATE_FIRST),
    ("li-li-cycling", "voltage_max", LI_LI_PASSIVATED, ("cycles=3",), {}),
    ("li-li-cycling", "voltage_min", LI_LI_PASSIVATED, ("cycles=3",), PLATE_FIRST),
    ("transference-bruce-vincent", "voltage_max", "li-qse-li", ("polarization=0.6 V",), {}),
    ("transference-bruce-vincent", "voltage_min", "li-qse-li", ("polarization=-0.6 V",), {}),
    # a cell that is not the steel|steel one its file says (Li in it): volts at rest
    (
        "eis-conductivity", "voltage_max",
        _sim_line("ss-qse-ss", "seed = 301", 'open_circuit_voltage = "0.6 V"'), (), {},
    ),
    (
        "eis-conductivity", "voltage_min",
        _sim_line("ss-qse-ss", "seed = 301", 'open_circuit_voltage = "-0.6 V"'), (), {},
    ),
    (
        "eis-arrhenius", "voltage_max",
        _sim_line("ss-qse-ss", "seed = 301", 'open_circuit_voltage = "0.6 V"'),
        ("soak=5 min",), {},
    ),
    (
        "eis-arrhenius", "voltage_min",
        _sim_line("ss-qse-ss", "seed = 301", 'open_circuit_voltage = "-0.6 V"'),
        ("soak=5 min",), {},
    ),
    # the oven set past the cell's 100 °C
    (
        "eis-arrhenius", "temperature_max", "ss-qse-ss",
        ("temperatures=30 degC, 110 degC", "soak=5 min"), {},
    ),
    # the simulated channel sources ±5 V, so nothing it applies can pass the 5.5 V maximum:
    # a cell that rests above it (not the Li|SS its file says) does; the sweep's end set
    # below 0 V; an electrolyte that oxidises from 3.5 V draws more than 5 mA by 5 V
    (
        "lsv-window", "voltage_max",
        ("li-qse-ss", {
            'oxidation_onset = "4.5 V"': 'oxidation_onset = "7 V"\nocv = "5.6 V"',
        }), (), {},
    ),
    ("lsv-window", "voltage_min", "li-qse-ss", ("upper=-0.3 V",), {}),
    (
        "lsv-window", "current_max",
        ("li-qse-ss", {'oxidation_onset = "4.5 V"': 'oxidation_onset = "3.5 V"'}), (), {},
    ),
    # over-charge and over-discharge: cut-offs set past the window
    ("lco-rate", "voltage_max", "lco-coin", ("upper=4.4 V", "cycles_per_rate=1"), {}),
    ("lco-rate", "voltage_min", "lco-coin", ("lower=2.6 V", "cycles_per_rate=1"), {}),
    ("ncm622-cycling", "voltage_max", "ncm622-coin", ("upper=4.45 V", "cycles=1"), {}),
    ("ncm622-cycling", "voltage_min", "ncm622-coin", ("lower=2.7 V", "cycles=1"), {}),
    # a strip run past its cut-off climbs into Cu oxidation (3.4 V): stopped at 3.2 V
    ("li-cu-ce", "voltage_max", "li-qse-cu", ("strip_cutoff=3.35 V", "cycles=1"), {}),
    ("li-cu-ce", "voltage_min", LI_CU_DRIED_OUT, ("cycles=1",), {}),
    # a Cu already oxidising at rest, above the 3.2 V maximum: stopped at its first point
    (
        "li-cu-nucleation", "voltage_max",
        _sim_line("li-qse-cu", "seed = 501", 'open_circuit_voltage = "3.3 V"'), (), {},
    ),
    ("li-cu-nucleation", "voltage_min", LI_CU_DRIED_OUT, (), {}),
]


def test_every_safety_limit_of_every_shipped_protocol_has_a_trip_case() -> None:
    import tomllib

    wanted = set()
    for protocol in SHIPPED:
        safety = tomllib.loads((library_dir() / f"{protocol}.toml").read_text())["safety"]
        wanted |= {(protocol, limit) for limit in safety}
    assert {(protocol, limit) for protocol, limit, *_ in TRIPS} == wanted


@pytest.mark.parametrize(
    ("protocol", "limit", "cell", "sets", "replace"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in TRIPS],
)
def test_a_cell_past_a_safety_limit_is_stopped(
    in_tmp: Path,
    capsys: pytest.CaptureFixture[str],
    protocol: str,
    limit: str,
    cell: CellSpec,
    sets: tuple[str, ...],
    replace: dict[str, str],
) -> None:
    cell_file = cell if isinstance(cell, str) else _cell(in_tmp, *cell)
    protocol_file = protocol
    if replace:
        protocol_file = _variant(in_tmp, library_dir(), protocol, replace)
        text = Path(protocol_file).read_text()
        for old, new in SWAP_BACK.items():
            text = text.replace(old, new)
        Path(protocol_file).write_text(text)
    code, out = _run(capsys, in_tmp, protocol_file, cell_file, *sets)
    run = out["run"]
    assert code == 1, out
    assert run["status"] == "safety_stop", run
    assert run["end_reason"] == f"safety:{limit}", run
    assert len(_safety_events(in_tmp, int(run["id"]))) == 1
