"""The shipped protocol and cells compile to the expected resolved plan."""

from __future__ import annotations

import math

import pytest

from cyclerctl.plan import Loop, Step, walk
from cyclerctl.protocol import list_cells, list_protocols, load_plan
from cyclerctl.resources import cells_dir, library_dir

from .conftest import MINIMAL, Writer

AREA_CM2 = math.pi * 0.6**2  # 12 mm disk: 1.131 cm²


def test_shipped_protocol_with_thin_cell() -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin")
    # 1C = 1.131 cm² × 1 mg/cm² × 175 mAh/g = 0.1979 mA
    one_c_A = AREA_CM2 * 1e-3 * 175e-3  # g × Ah/g
    assert one_c_A * 1e3 == pytest.approx(0.1979, abs=1e-4)
    assert plan.cell.nominal_capacity_Ah == pytest.approx(one_c_A)
    assert plan.cell.area_m2 == pytest.approx(AREA_CM2 * 1e-4)

    formation, cycling = plan.body
    assert isinstance(formation, Loop) and isinstance(cycling, Loop)
    assert (formation.name, formation.count, cycling.name, cycling.count) == (
        "formation",
        2,
        "cycling",
        100,
    )
    assert formation.counts_cycles and cycling.counts_cycles

    names = [s.name for s in plan.steps]
    assert names == [
        "formation charge", "rest", "formation discharge", "rest",
        "charge", "rest", "discharge", "rest",
    ]  # fmt: skip
    assert [s.index for s in plan.steps] == list(range(8))
    assert list(walk(plan.body)) == list(plan.steps)

    formation_charge, _, formation_discharge, _, charge, rest, discharge, _ = plan.steps
    assert formation_charge.kind == "cccv"
    assert formation_charge.current_A == pytest.approx(one_c_A / 10)
    assert formation_charge.voltage_V == pytest.approx(4.3)
    assert formation_charge.c_rate == pytest.approx(0.1)
    assert formation_discharge.current_A == pytest.approx(-one_c_A / 10)
    assert charge.current_A == pytest.approx(one_c_A)
    assert discharge.current_A == pytest.approx(-one_c_A)
    assert discharge.c_rate == pytest.approx(1.0)

    cutoff = charge.condition("current_below")
    assert cutoff is not None and cutoff.value == pytest.approx(one_c_A / 20)
    time_cap = charge.condition("time")
    assert time_cap is not None and time_cap.value == pytest.approx(15 * 3600)
    lower = discharge.condition("voltage_below")
    assert lower is not None and lower.value == pytest.approx(3.0)
    assert rest.kind == "rest" and rest.ends[0].value == pytest.approx(600)

    assert formation_charge.line == 34 and charge.line == 62
    assert formation.line == 29
    assert plan.record.every_s == 10 and plan.record.delta_V == pytest.approx(0.005)
    assert [(s.quantity, s.value) for s in plan.safety] == [
        ("voltage_min", 2.8),
        ("voltage_max", 4.4),
    ]
    assert plan.analysis == {
        "kind": "cycling",
        "formation_loop": "formation",
        "formation_cycles": 2,
    }
    assert plan.parameters["rate"] == "1C" and plan.parameters["cycles"] == 100
    assert plan.protocol_source == "ncm622-cycling"
    assert plan.protocol_text.startswith("# NCM622")
    assert len(plan.protocol_sha256) == 64
    assert plan.cell.sim["model"] == "ncm622-li" and plan.cell.sim["temperature"] == "25 degC"


def test_shipped_protocol_with_high_loading_cell_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(library_dir().parent)  # a path relative to the source checkout
    plan = load_plan(
        str(library_dir() / "ncm622-cycling.toml"), "protocols/cells/ncm622-coin-high-loading.toml"
    )
    one_c_A = AREA_CM2 * 8.8e-3 * 175e-3
    assert plan.cell.nominal_capacity_Ah == pytest.approx(one_c_A)
    assert plan.steps[4].current_A == pytest.approx(one_c_A)
    assert plan.cell.active_mass_kg == pytest.approx(AREA_CM2 * 8.8e-6)
    assert plan.cell.specific_capacity_Ah_kg == pytest.approx(175.0)


def test_set_cycles_changes_the_loop_count() -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "3"})
    cycling = plan.body[1]
    assert isinstance(cycling, Loop) and cycling.count == 3
    assert plan.parameters["cycles"] == 3


def test_set_rate_and_formation_cycles() -> None:
    plan = load_plan(
        "ncm622-cycling", "ncm622-coin", {"rate": "0.5 mA/cm^2", "formation_cycles": "0"}
    )
    formation = plan.body[0]
    assert isinstance(formation, Loop) and formation.count == 0  # min = 0: formation skipped
    assert plan.analysis["formation_cycles"] == 0
    assert plan.steps[4].current_A == pytest.approx(0.5e-3 * AREA_CM2)


def test_estimated_duration_follows_the_documented_heuristic() -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin")
    # formation: cccv min(10 h + 5 h, 15 h) + 10 min + cc 10 h + 10 min, × 2
    # cycling: cccv 1 h + 0.5 h + 10 min + cc 1 h + 10 min, × 100
    hours = 2 * (15 + 10 + 1 / 3) + 100 * (1.5 + 1 + 1 / 3)
    assert plan.estimated_duration_s == pytest.approx(hours * 3600)


def test_library_listing() -> None:
    protocols = {p.name: p for p in list_protocols()}
    assert list(protocols) == sorted(protocols)
    assert {"ncm622-cycling", "eis-conductivity", "eis-arrhenius", "lsv-window", "li-cu-ce",
            "ccd-ramp", "li-li-cycling", "li-cu-nucleation", "transference-bruce-vincent",
            "lco-rate"} <= set(protocols)
    ncm = protocols["ncm622-cycling"]
    assert ncm.description.startswith("NCM622 vs Li")
    assert ncm.path == library_dir() / "ncm622-cycling.toml"
    cells = {c.name: c for c in list_cells()}
    assert {"ncm622-coin", "ncm622-coin-high-loading", "ss-qse-ss"} <= set(cells)
    assert cells["ncm622-coin"].description == "NCM622 coin 12 mm, 1 mg/cm2"
    assert all(c.path.parent == cells_dir() for c in cells.values())


def test_minimal_protocol_from_a_path(write: Writer) -> None:
    plan = load_plan(str(write(MINIMAL)), "ncm622-coin")
    assert plan.protocol_name == "minimal"
    assert isinstance(plan.body[0], Loop) and plan.body[0].count == 2
    cc = plan.steps[0]
    assert cc.line == 12 and cc.c_rate == pytest.approx(0.1)
    assert [c.kind for c in cc.ends] == ["voltage_above", "time"]


def test_all_step_types_and_options_compile(write: Writer) -> None:
    path = write(
        """\
        name = "everything"
        [parameters]
        vertices = { default = ["4.3 V", "3.0 V"] }
        [record]
        every = "30 s"
        current_change = "C/100"
        [safety]
        voltage_max = { value = "4.45 V", for = "100 ms" }
        current_max = "10 mA"
        temperature_max = "45 degC"

        [[steps]]
        type = "ocv"
        until = { time = "1 h", dvdt_below = { value = "1 mV/h", window = "10 min" } }
        record = { every = "1 s" }

        [[steps]]
        type = "eis"
        f_start = "100 kHz"
        f_stop = "100 mHz"
        amplitude = "10 mV"
        points_per_decade = 6
        averages = 2
        resumable = false

        [[steps]]
        type = "eis"
        mode = "galvanostatic"
        f_start = "10 kHz"
        f_stop = "1 Hz"
        amplitude = "C/50"
        bias = "3.7 V"

        [[steps]]
        type = "sweep"
        scan_rate = "0.1 mV/s"
        to = "{vertices}"
        from = "3.5 V"
        cycles = 3

        [[steps]]
        type = "sweep"
        scan_rate = "1 mV/s"
        to = "4.0 V"

        [[steps]]
        type = "cv"
        voltage = "4.2 V"
        until = { time = "2 h", current_below = "0.01 mA", charge = "0.1 mAh/cm^2" }

        [[steps]]
        type = "cc"
        current = "-0.1 mA"
        until = { charge = "0.05 mAh", short = true }

        [[steps]]
        type = "cc"
        current = "0.1 mA"
        direction = "discharge"
        until = { time = "1 h", short = { fraction = 0.5, window = "2 s" } }
        """
    )
    plan = load_plan(str(path), "ncm622-coin")
    ocv, eis, geis, cv_sweep, lsv, cv, plate, discharge = plan.steps
    assert ocv.kind == "rest" and ocv.name == "ocv"
    dvdt = ocv.condition("dvdt_below")
    assert dvdt is not None and dvdt.value == pytest.approx(1e-3 / 3600) and dvdt.window_s == 600
    assert ocv.record.every_s == 1 and ocv.record.delta_I == pytest.approx(plan.record.delta_I or 0)
    assert eis.eis is not None and not eis.resumable
    assert (eis.eis.mode, eis.eis.f_start_Hz, eis.eis.f_stop_Hz) == ("potentiostatic", 1e5, 0.1)
    assert eis.eis.amplitude == pytest.approx(0.01) and eis.eis.bias_V is None
    assert (eis.eis.points_per_decade, eis.eis.averages) == (6, 2)
    assert geis.eis is not None and geis.eis.bias_V == pytest.approx(3.7)
    assert geis.eis.amplitude == pytest.approx(plan.cell.nominal_capacity_Ah / 50)  # type: ignore[operator]
    assert cv_sweep.sweep is not None
    assert cv_sweep.sweep.vertices_V == pytest.approx((4.3, 3.0))
    assert cv_sweep.sweep.start_V == pytest.approx(3.5) and cv_sweep.sweep.cycles == 3
    assert lsv.sweep is not None and lsv.sweep.start_V is None and lsv.sweep.cycles == 1
    charge = cv.condition("charge")
    assert charge is not None and charge.value == pytest.approx(3600 * plan.cell.area_m2)
    assert plate.current_A == pytest.approx(-1e-4)
    short = plate.condition("short")
    assert short is not None and (short.value, short.window_s) == (0.2, 1.0)
    assert discharge.current_A == pytest.approx(-1e-4)
    short = discharge.condition("short")
    assert short is not None and (short.value, short.window_s) == (0.5, 2.0)
    assert [(s.quantity, s.hold_s) for s in plan.safety] == [
        ("voltage_max", pytest.approx(0.1)),
        ("current_max", 0.0),
        ("temperature_max", 0.0),
    ]
    assert plan.safety[2].value == pytest.approx(318.15)
    assert plan.estimated_duration_s is not None and plan.estimated_duration_s > 0


def test_cell_variants(write: Writer) -> None:
    protocol = write(MINIMAL)
    cell = write(
        """\
        name = "pouch"
        chemistry = "LFP|C"
        area = "10 cm^2"
        nominal_capacity = "2 mAh/cm^2"
        thickness = "60 um"
        """,
        "pouch.toml",
    )
    plan = load_plan(str(protocol), str(cell))
    assert plan.cell.area_m2 == pytest.approx(1e-3)
    assert plan.cell.nominal_capacity_Ah == pytest.approx(0.02)
    assert plan.cell.thickness_m == pytest.approx(60e-6)
    assert plan.steps[0].current_A == pytest.approx(0.002)
    assert plan.cell.source == str(cell)


def test_nested_loops_do_not_count_cycles_by_default(write: Writer) -> None:
    path = write(
        """\
        name = "nested"
        [[steps]]
        type = "loop"
        count = 2
          [[steps.steps]]
          type = "loop"
          name = "inner"
          count = 3
            [[steps.steps.steps]]
            type = "rest"
            until = { time = "1 min" }
        """
    )
    plan = load_plan(str(path), "ncm622-coin")
    outer = plan.body[0]
    assert isinstance(outer, Loop) and not outer.counts_cycles
    inner = outer.body[0]
    assert isinstance(inner, Loop) and inner.counts_cycles and inner.name == "inner"
    assert isinstance(inner.body[0], Step) and plan.estimated_duration_s == pytest.approx(360)
