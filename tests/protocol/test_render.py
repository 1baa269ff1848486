"""The plan table, the plan as JSON, and the JSON Schemas."""

from __future__ import annotations

import json

import pytest

from cyclerctl.protocol import (
    cell_json_schema,
    load_plan,
    plan_to_json,
    protocol_json_schema,
    render_plan_table,
)
from cyclerctl.protocol.display import c_rate, duration, eta

from .conftest import Writer
from .test_ramp import RAMP


def test_table_of_the_shipped_protocol() -> None:
    table = render_plan_table(load_plan("ncm622-cycling", "ncm622-coin"))
    for expected in [
        "loop formation × 2",
        "loop cycling × 100",
        "formation charge",
        "+0.1979",  # 1C in mA
        "+0.175",  # mA/cm²
        "C/10",
        "4.30 V",
        "|I| < C/20 (0.0099 mA)",
        "V ≤ 3.00 V",
        "t ≥ 10 min",
        "t ≥ 15 h",
        "safety      V < 2.80 V, V > 4.40 V",
        "record      every 10 s, ΔV ≥ 5 mV",
        "estimated   13 d 22 h 0 min",
    ]:
        assert expected in table, expected
    lines = table.splitlines()
    step_1 = next(line for line in lines if "formation charge" in line)
    loop_line = next(line for line in lines if "loop formation" in line)
    assert step_1.startswith("1 ")
    assert step_1.index("formation charge") > loop_line.index("loop")  # indented under it


def test_table_of_a_ramp(write: Writer) -> None:
    table = render_plan_table(load_plan(str(write(RAMP)), "ncm622-coin"))
    assert "loop ramp × 50, ramping {j}" in table
    assert "-0.1131…-5.655" in table and "-0.1…-5" in table
    assert "|I| < {j} (0.1131…5.655 mA)" in table
    assert "short: |V| < 20% of settled within 1 s" in table


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3600 * 27 + 1200, "1 d 3 h 20 min"), (45, "45 s"), (600, "10 min"), (7200, "2 h 0 min")],
)
def test_eta(seconds: float, text: str) -> None:
    assert eta(seconds) == text


def test_display_helpers() -> None:
    assert [c_rate(r) for r in (1.0, 0.1, 0.05, 2.0, 0.3)] == ["1C", "C/10", "C/20", "2C", "0.3C"]
    assert [duration(s) for s in (600, 54000, 30, 0.1, 86400)] == [
        "10 min",
        "15 h",
        "30 s",
        "100 ms",
        "1 d",
    ]


def test_plan_json_is_serialisable_and_complete(write: Writer) -> None:
    data = plan_to_json(load_plan("ncm622-cycling", "ncm622-coin"))
    text = json.dumps(data)
    assert json.loads(text) == data
    assert set(data) >= {
        "protocol",
        "parameters",
        "cell",
        "safety",
        "record",
        "steps",
        "estimated_duration_s",
    }
    assert data["protocol"]["name"] == "ncm622-cycling"
    formation = data["steps"][0]
    assert (formation["kind"], formation["count"], formation["variable"]) == ("loop", 2, None)
    charge = formation["steps"][0]
    assert charge["kind"] == "cccv" and charge["index"] == 0 and charge["line"] == 34
    assert charge["current_A"] == pytest.approx(1.979e-5, rel=1e-3)
    assert charge["display"]["current"] == "+0.01979 mA (+0.0175 mA/cm², C/10)"
    assert charge["display"]["until"] == ["|I| < C/20 (0.0099 mA)", "t ≥ 15 h"]
    assert charge["ends"][0]["reason"] == "limit:current"
    assert data["safety"][0]["reason"] == "safety:voltage_min"
    assert data["cell"]["sim"]["seed"] == 622

    ramp = plan_to_json(load_plan(str(write(RAMP)), "ncm622-coin"))
    json.dumps(ramp)
    loop = ramp["steps"][0]
    assert loop["variable"] == "j" and len(loop["values"]) == loop["count"] == 50
    assert loop["steps"][0]["current_A"]["variable"] == "j"
    assert loop["steps"][0]["display"]["current"] == "{j}: -0.1131…-5.655 mA (-0.1…-5 mA/cm²)"


def test_protocol_schema_lists_step_types() -> None:
    schema = protocol_json_schema()
    json.dumps(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    mapping = schema["properties"]["steps"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == {"rest", "ocv", "cc", "cv", "cccv", "eis", "sweep", "chamber", "loop"}
    sweep = schema["$defs"]["SweepStep"]["properties"]
    assert "from" in sweep and "for" in schema["$defs"]["HeldLimit"]["properties"]


def test_cell_schema() -> None:
    schema = cell_json_schema()
    json.dumps(schema)
    assert {"diameter", "area", "loading", "specific_capacity", "sim"} <= set(schema["properties"])
    assert schema["required"] == ["name"]
