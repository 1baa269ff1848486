"""Whatever is typed into a field, load_plan compiles or raises ProtocolError, nothing else."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cyclerctl.plan import Plan
from cyclerctl.protocol import ProtocolError, load_plan, plan_to_json, render_plan_table
from cyclerctl.protocol.units import KINDS, parse_quantity

PROTOCOL = """\
name = "fuzz"
[parameters]
rate = {{ default = {default}, description = "rate" }}
n = {{ default = 2 }}
[safety]
voltage_max = {safety}
[[steps]]
type = "loop"
{loop_header}
  [[steps.steps]]
  type = {step_type}
  current = {current}
  voltage = "4.2 V"
  until = {{ time = {time}, current_below = {cutoff} }}
"""

CELL = """\
name = "fuzz cell"
diameter = {diameter}
loading = {loading}
specific_capacity = "175 mAh/g"
"""

#: A value that compiles, for every field; each example replaces one or two of them.
GOOD: dict[str, object] = {
    "default": "C/10",
    "safety": "4.4 V",
    "count": "{n}",
    "step": "1 mA/cm^2",
    "step_type": "cccv",
    "current": "{j}",
    "time": "1 h",
    "cutoff": "C/20",
    "diameter": "12 mm",
    "loading": "1 mg/cm^2",
}

quantity_like = st.from_regex(
    r"-?\d{1,4}(\.\d{1,3})?( ?(mA|A|V|h|min|s|C|mAh|mA/cm\^2|mg/cm\^2|mm|furlong|blorp))?",
    fullmatch=True,
)
special = st.sampled_from(
    ["C/10", "2C", "{rate}", "-{rate}", "{j}", "-{j}", "{n}", "{nope}", "{rate} mA", "1e999 mA",
     "", " ", "ocv", "9^9^9", "mA/cm^9**9", "{", "}", "C/0", "0 mA/cm^2", "nan mA", "cc", "eis",
     "sweep", "loop", "rest", "pulse"]
)  # fmt: skip
text = st.one_of(quantity_like, special, st.text(max_size=20))
value = st.one_of(
    text,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.lists(text, max_size=3),
)


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def write_and_load(fields: dict[str, object], ramp: bool, overrides: dict[str, str]) -> Plan:
    f = {k: toml_value(v) for k, v in fields.items()}
    if ramp:
        header = f'variable = {{ name = "j", start = "1 mA/cm^2", step = {f["step"]}, '
        header += 'stop = "3 mA/cm^2" }'
    else:
        header = f"count = {f['count']}"
    protocol = PROTOCOL.format(loop_header=header, **f)
    cell = CELL.format(**f)
    with tempfile.TemporaryDirectory() as folder:
        protocol_path, cell_path = Path(folder, "p.toml"), Path(folder, "c.toml")
        protocol_path.write_text(protocol, encoding="utf-8")
        cell_path.write_text(cell, encoding="utf-8")
        return load_plan(str(protocol_path), str(cell_path), overrides)


def test_the_good_values_compile() -> None:
    plan = write_and_load(GOOD, ramp=True, overrides={})
    assert plan.body[0].count == 3  # type: ignore[union-attr]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), ramp=st.booleans())
def test_any_field_value_compiles_or_raises_protocol_error(data: st.DataObject, ramp: bool) -> None:
    fields = dict(GOOD)
    for name in data.draw(st.sets(st.sampled_from(sorted(GOOD)), min_size=1, max_size=2)):
        fields[name] = data.draw(value, label=name)
    set_values = st.one_of(quantity_like, special, st.sampled_from(["3", "0", "1 mA", "C/5"]))
    overrides = data.draw(
        st.one_of(
            st.just({}),
            st.dictionaries(st.sampled_from(["rate", "n", "x"]), set_values, max_size=2),
        )
    )
    try:
        plan = write_and_load(fields, ramp, overrides)
    except ProtocolError as exc:
        assert exc.errors
        assert all(e.message and e.path for e in exc.errors)
        assert len(str(exc).splitlines()) == len(exc.errors)  # one line per error
        return
    assert isinstance(plan, Plan)
    render_plan_table(plan)
    json.dumps(plan_to_json(plan))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(text, st.text(max_size=40)))
def test_unit_parser_only_raises_value_error(text: str) -> None:
    for kind in KINDS:
        try:
            value = parse_quantity(text, kind)
        except ValueError:
            continue
        assert math.isfinite(value)
