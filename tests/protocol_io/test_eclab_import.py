"""EC-Lab settings files → our protocol: the two real files (one of them against the run it
produced), every technique on files in EC-Lab's layout, and the refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cyclerctl.protocol.compiler import plan_from_texts
from cyclerctl.protocol_io import ProtocolIOError, import_protocol
from cyclerctl.protocol_io.eclab_text import row
from cyclerctl.protocol_io.plan_shape import expanded

from .conftest import real_file


def sim_cell(hints: str) -> str:
    """The imported cell hints made runnable: a capacity and a simulator model added."""
    text = hints.replace("# model = ", "model = ")
    has_mass = re.search(r"^active_mass = ", text, re.MULTILINE) is not None
    capacity = 'specific_capacity = "140 mAh/g"' if has_mass else 'nominal_capacity = "2 mAh"'
    return text.replace("chemistry = ", f"{capacity}\nchemistry = ", 1)


@pytest.mark.parametrize("name", ["jdb11-1.mps", "jdb11-4.mps"])
def test_real_settings_import_validate_plan_and_run(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclerctl.cli import main

    toml, hints = import_protocol(real_file(name))
    assert hints is not None and 'area = "0.001 cm^2"  # EC-Lab\'s default' in hints
    protocol, cell = tmp_path / "p.toml", tmp_path / "cell.toml"
    protocol.write_text(toml, encoding="utf-8")
    cell.write_text(sim_cell(hints), encoding="utf-8")
    plan = plan_from_texts(toml, cell.read_text())
    assert [s.kind for s in plan.steps][:2] == ["rest", "cc"]
    assert main(["validate", str(protocol), "--cell", str(cell)]) == 0
    assert main(["plan", str(protocol), "--cell", str(cell)]) == 0
    assert "loop GCPL Ns 2-3 × 6" in capsys.readouterr().out
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert main(["run", str(protocol), "--cell", str(cell), "--db", url, "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run"]["status"] == "completed", out["run"]


def recorded_sequences(path: Path) -> list[tuple[int, float, float, float]]:
    """(Ns, control current A, duration s, last Ewe V) of each run of one Ns in a .mpr."""
    biologic = pytest.importorskip("galvani.BioLogic")
    data = biologic.MPRfile(str(path)).data
    ns = np.asarray(data["Ns"], dtype=int)
    starts = np.r_[0, np.flatnonzero(np.diff(ns)) + 1]
    ends = np.r_[starts[1:], len(ns)]
    t, ewe = np.asarray(data["time/s"]), np.asarray(data["Ewe/V"])
    control = np.asarray(data["control/V/mA"]) * 1e-3
    return [
        (int(ns[s]), float(np.median(control[s:e])), float(t[e - 1] - t[s]), float(ewe[e - 1]))
        for s, e in zip(starts, ends, strict=True)
    ]


def test_jdb11_4_steps_are_the_steps_its_run_recorded() -> None:
    """jdb11-4.mpr is the run jdb11-4.mps produced: the imported plan, unrolled, must give
    the recorded sequence of Ns in order, each at the recorded current and ending on its
    limit (62 sequences: the whole protocol ran)."""
    toml, hints = import_protocol(real_file("jdb11-4.mps"))
    assert hints is not None
    recorded = recorded_sequences(real_file("jdb11-4.mpr"))
    planned = list(expanded(plan_from_texts(toml, sim_cell(hints)).body))
    assert len(recorded) == len(planned) == 62  # the run went to the end
    rows = []
    for (ns, current, duration, last), step in zip(recorded, planned, strict=False):
        match = re.search(r"Ns (\d+)", step.name)
        assert match is not None and int(match[1]) == ns, (step.name, ns)
        if step.kind == "rest":
            assert current == 0.0
            time = step.condition("time")
            assert time is not None and duration == pytest.approx(time.value, abs=60)
        else:
            assert isinstance(step.current_A, float)
            assert current == pytest.approx(step.current_A, rel=1e-3)
            limit = step.condition("voltage_above" if current > 0 else "voltage_below")
            assert limit is not None and last == pytest.approx(limit.value, abs=0.03)
        rows.append(f"Ns {ns:2d}  {step.kind:4s} {current * 1e3:+.4f} mA  end {last:.3f} V")
    print("\n".join(rows))


# -- every technique, in EC-Lab's layout --------------------------------------------------


def mps(*techniques: tuple[str, list[tuple[str, list[str]]]], header: str = "") -> str:
    lines = ["EC-LAB SETTING FILE", "", f"Number of linked techniques : {len(techniques)}", ""]
    lines += header.splitlines()
    for k, (name, rows) in enumerate(techniques, start=1):
        lines += ["", f"Technique : {k}", name]
        lines += [row(label, values) for label, values in rows]
    return "\r\n".join(lines) + "\r\n"


OCV = (
    "Open Circuit Voltage",
    [
        ("tR (h:m:s)", ["0:15:0,0000"]),
        ("dER/dt (mV/h)", ["1,0"]),
        ("dER (mV)", ["1,00"]),
        ("dtR (s)", ["0,5000"]),
    ],
)
CA = (
    "Chronoamperometry / Chronocoulometry",
    [
        ("Ei (V)", ["-0.400"]),
        ("vs.", ["Ref"]),
        ("ti (h:m:s)", ["1:15:0.0000"]),
        ("Imax", ["pass"]),
        ("unit Imax", ["mA"]),
        ("Imin", ["pass"]),
        ("unit Imin", ["mA"]),
        ("dQM", ["0.000"]),
        ("unit dQM", ["mA.h"]),
        ("dt (s)", ["1.0000"]),
        ("goto Ns'", ["0"]),
        ("nc cycles", ["0"]),
    ],
)
CP = (
    "Chronopotentiometry",
    [
        ("Ns", ["0", "1"]),
        ("Is", ["-1.960", "25.000"]),
        ("unit Is", ["mA", "µA"]),
        ("vs.", ["<None>", "<None>"]),
        ("ts (h:m:s)", ["0:03:0.0000", "0:02:0.0000"]),
        ("EM (V)", ["pass", "0.200"]),
        ("dQM", ["98.000", "0.000"]),
        ("unit dQM", ["µA.h", "mA.h"]),
        ("dEs (mV)", ["1.00", "10.00"]),
        ("dts (s)", ["5.0000", "1.0000"]),
        ("goto Ns'", ["0", "1"]),
        ("nc cycles", ["0", "3"]),
    ],
)
PEIS = (
    "Potentio Electrochemical Impedance Spectroscopy",
    [
        ("Mode", ["Single sine"]),
        ("E (V)", ["0.0000"]),
        ("vs.", ["Eoc"]),
        ("tE (h:m:s)", ["0:00:0.0000"]),
        ("fi", ["1.000"]),
        ("unit fi", ["MHz"]),
        ("ff", ["100.000"]),
        ("unit ff", ["mHz"]),
        ("Nd", ["6"]),
        ("Points", ["per decade"]),
        ("spacing", ["Logarithmic"]),
        ("Va (mV)", ["10.0"]),
        ("Na", ["2"]),
        ("nc cycles", ["0"]),
    ],
)
GEIS = (
    "Galvano Electrochemical Impedance Spectroscopy",
    [
        ("Mode", ["Single sine"]),
        ("Is", ["0.000"]),
        ("unit Is", ["mA"]),
        ("vs.", ["<None>"]),
        ("fi", ["100.000"]),
        ("unit fi", ["kHz"]),
        ("ff", ["50.000"]),
        ("unit ff", ["mHz"]),
        ("Nd", ["6"]),
        ("Points", ["per decade"]),
        ("spacing", ["Logarithmic"]),
        ("Ia/Va", ["Ia"]),
        ("Ia", ["2.500"]),
        ("unit  Ia", ["µA"]),
        ("Na", ["2"]),
    ],
)
LSV = (
    "Linear Sweep Voltammetry",
    [
        ("tR (h:m:s)", ["0:10:0.0000"]),
        ("dE/dt", ["1.000"]),
        ("dE/dt unit", ["mV/s"]),
        ("Ei (V)", ["0.000"]),
        ("vs.", ["Eoc"]),
        ("EL (V)", ["5.500"]),
        ("vs.", ["Ref"]),
    ],
)
CV = (
    "Cyclic Voltammetry",
    [
        ("Ei (V)", ["3.000"]),
        ("vs.", ["Ref"]),
        ("dE/dt", ["0.100"]),
        ("dE/dt unit", ["mV/s"]),
        ("E1 (V)", ["4.300"]),
        ("vs.", ["Ref"]),
        ("E2 (V)", ["3.000"]),
        ("vs.", ["Ref"]),
        ("nc cycles", ["2"]),
        ("Reverse Scan", ["0"]),
    ],
)
LOOP = ("Loop", [("goto Ne", ["2"]), ("nt times", ["9"])])
HEADER = "Safety Limits :\r\n\tEwe max = 4.50000 V\r\n\t|I| = 10.00000 mA\r\n\tfor t > 10.0 ms\r\n"


def test_every_technique_reads_as_its_steps(tmp_path: Path) -> None:
    path = tmp_path / "all.mps"
    path.write_bytes(mps(OCV, CA, CP, PEIS, GEIS, LSV, CV, LOOP, header=HEADER).encode("cp1252"))
    toml, _ = import_protocol(path)
    plan = plan_from_texts(toml, 'name = "c"\narea = "1 cm^2"\nnominal_capacity = "1 mAh"\n')
    kinds = [(s.kind, s.name) for s in plan.steps]
    assert kinds == [
        ("rest", "OCV"),
        ("cv", "CA Ns 0"),
        ("cc", "CP Ns 0"),
        ("cc", "CP Ns 1"),
        ("eis", "PEIS Ns 0"),
        ("eis", "GEIS Ns 0"),
        ("rest", "LSV rest"),
        ("sweep", "LSV"),
        ("sweep", "CV"),
    ]
    ocv, ca, cp0, cp1, peis, geis, _rest, lsv, cv = plan.steps
    assert ocv.condition("dvdt_below") is not None and ocv.record.every_s == 0.5
    assert ca.voltage_V == -0.4 and ca.condition("time").value == 4500  # type: ignore[union-attr]
    assert cp0.current_A == pytest.approx(-1.96e-3)
    assert cp0.condition("charge").value == pytest.approx(98e-6 * 3600)  # type: ignore[union-attr]
    assert cp1.condition("voltage_above").value == 0.2  # type: ignore[union-attr]
    assert peis.eis is not None and peis.eis.f_start_Hz == 1e6 and peis.eis.bias_V is None
    assert peis.eis.amplitude == pytest.approx(0.01) and peis.eis.points_per_decade == 6
    assert geis.eis is not None and geis.eis.amplitude == pytest.approx(2.5e-6)
    assert lsv.sweep is not None and lsv.sweep.start_V is None and lsv.sweep.vertices_V == (5.5,)
    assert cv.sweep is not None and cv.sweep.vertices_V == (4.3, 3.0) and cv.sweep.cycles == 3
    # the Loop technique goes back to technique 2 (CA): techniques 2-7 run 10 times
    outer = plan.body[1]
    assert getattr(outer, "count", None) == 10 and plan.body[0] is ocv
    inner = [n for n in outer.body if hasattr(n, "count")]  # type: ignore[union-attr]
    assert [n.count for n in inner] == [4]  # CP Ns 1 goes back to itself 3 times
    assert {s.quantity: (s.value, s.hold_s) for s in plan.safety} == {
        "voltage_max": (4.5, 0.01),
        "current_max": (0.01, 0.01),
    }


@pytest.mark.parametrize(
    ("technique", "message"),
    [
        (
            (
                "Galvanostatic Cycling with Potential Limitation",
                [("Ns", ["0"]), ("Set I/C", ["C"])],
            ),
            "technique 1 (Galvanostatic Cycling with Potential Limitation), Ns 0, field 'Set I/C'",
        ),
        (
            ("Modulo Bat", [("Ns", ["0", "1"]), ("ctrl_type", ["Rest", "CR"])]),
            "technique 1 (Modulo Bat), Ns 1, field 'ctrl_type': 'CR' cannot be imported",
        ),
        (("Wait", [("td", ["0"])]), "technique 1 (Wait) cannot be imported"),
        (
            ("Chronoamperometry / Chronocoulometry", [("Ei (V)", ["0.1"]), ("vs.", ["Eoc"])]),
            "Ns 0, field 'vs.': 'Eoc' cannot be imported (allowed: Ref)",
        ),
        (
            (
                "Potentio Electrochemical Impedance Spectroscopy",
                [("Mode", ["Multi sine"])],
            ),
            "field 'Mode': 'Multi sine' cannot be imported",
        ),
    ],
)
def test_what_we_cannot_express_is_refused_by_name(
    technique: tuple[str, list[tuple[str, list[str]]]], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.mps"
    path.write_text(mps(technique), encoding="cp1252")
    with pytest.raises(ProtocolIOError, match=re.escape(message)):
        import_protocol(path)


def test_overlapping_loops_are_refused(tmp_path: Path) -> None:
    cp = (
        "Chronopotentiometry",
        [
            ("Ns", ["0", "1", "2"]),
            ("Is", ["1", "1", "1"]),
            ("unit Is", ["mA"] * 3),
            ("vs.", ["<None>"] * 3),
            ("ts (h:m:s)", ["0:01:0.0000"] * 3),
            ("goto Ns'", ["0", "0", "1"]),
            ("nc cycles", ["0", "2", "2"]),
        ],
    )
    path = tmp_path / "x.mps"
    path.write_text(mps(cp), encoding="cp1252")
    with pytest.raises(ProtocolIOError, match="overlap"):
        import_protocol(path)


def test_not_a_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "x.mps"
    path.write_text("EC-Lab ASCII FILE\n", encoding="cp1252")
    with pytest.raises(ProtocolIOError, match=r"x.mps:1: not an EC-Lab settings file"):
        import_protocol(path)
