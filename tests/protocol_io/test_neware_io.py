"""Whole protocols as Neware step files, through the driver's own step-file code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from cyclerctl.drivers.neware import stepfile as sf
from cyclerctl.plan import EndCondition, Loop, RecordCriteria, Step
from cyclerctl.protocol.compiler import load_plan, plan_from_texts
from cyclerctl.protocol_io import ProtocolIOError, export_protocol, import_protocol


def test_an_exported_protocol_is_step_elements_the_driver_parses() -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "3"})
    text = export_protocol(plan, "neware-xml")
    assert isinstance(text, str)
    root = ET.fromstring(text)
    whole = root.find("./config/Whole_Prt/Record")
    types = []
    for element in root.findall("./config/Step_Info/*"):
        code = int(element.get("Step_Type", "0"))
        types.append(code)
        if code not in (5, sf.END):
            sf.parse_part(element, whole)  # the driver reads every working step
    # formation: CC, CV, rest, CC, rest, CYCLE; cycling the same; END
    assert types == [1, 3, 4, 2, 4, 5, 1, 3, 4, 2, 4, 5, 6]
    cycles = root.findall("./config/Step_Info/*[@Step_Type='5']/Limit/Other")
    values = [(c.find("Start_Step"), c.find("Cycle_Count")) for c in cycles]
    assert [
        (s.get("Value"), n.get("Value")) for s, n in values if s is not None and n is not None
    ] == [
        ("1", "2"),
        ("7", "3"),
    ]
    protect = root.find("./config/Whole_Prt/Protect/Main/Volt")
    assert protect is not None and protect.find("Upper").get("Value") == "44000"  # type: ignore[union-attr]


def test_a_step_file_the_driver_writes_imports(tmp_path: Path) -> None:
    step = Step(
        index=0,
        name="charge",
        kind="cccv",
        current_A=2e-3,
        voltage_V=4.2,
        ends=(EndCondition("current_below", 1e-4), EndCondition("time", 7200.0)),
        record=RecordCriteria(every_s=10.0),
    )
    path = tmp_path / "one.xml"
    path.write_text(sf.build_stepfile(step, created=datetime(2026, 1, 1)), encoding="utf-8")
    toml, hints = import_protocol(path)
    assert hints is None
    plan = plan_from_texts(toml, 'name = "c"\narea = "1 cm^2"\n')
    (back,) = plan.steps
    assert back.kind == "cccv" and back.voltage_V == 4.2
    assert back.current_A == pytest.approx(2e-3)
    assert back.condition("current_below").value == pytest.approx(1e-4)  # type: ignore[union-attr]
    assert back.condition("time").value == 7200.0  # type: ignore[union-attr]


def test_loops_come_back_as_loops(tmp_path: Path) -> None:
    plan = load_plan("ncm622-cycling", "ncm622-coin", {"cycles": "4"})
    path = tmp_path / "p.xml"
    path.write_text(str(export_protocol(plan, "neware-xml")), encoding="utf-8")
    toml, _ = import_protocol(path)
    back = plan_from_texts(toml, plan.cell_text)
    assert [n.count for n in back.body if isinstance(n, Loop)] == [2, 4]


def test_a_step_type_we_do_not_read_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.xml"
    path.write_text(
        '<root><config type="Step File"><Step_Info Num="2">'
        '<Step1 Step_ID="1" Step_Type="7"/><Step2 Step_ID="2" Step_Type="6"/>'
        "</Step_Info></config></root>",
        encoding="utf-8",
    )
    with pytest.raises(ProtocolIOError, match=r"p.xml: Step_ID 1 \(Step_Type 7\)"):
        import_protocol(path)


def test_a_cv_hold_without_its_cc_is_refused() -> None:
    plan = load_plan("transference-bruce-vincent", "li-qse-li")
    body = tuple(s for s in plan.body if isinstance(s, Step) and s.kind in ("rest", "cv"))
    with pytest.raises(ProtocolIOError, match="'polarization': a Neware CV hold needs"):
        from dataclasses import replace

        export_protocol(replace(plan, body=body), "neware-xml")
