"""aurora-unicycler JSON → our protocol: their own test protocol, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cyclerctl.plan import Loop
from cyclerctl.protocol.compiler import plan_from_texts
from cyclerctl.protocol_io import ProtocolIOError, import_protocol
from cyclerctl.protocol_io.plan_shape import expanded

AURORA = Path(__file__).parent / "data" / "aurora_test_protocol.json"


def test_their_test_protocol_reads_as_the_same_steps_and_loops() -> None:
    toml, hints = import_protocol(AURORA)
    assert hints is not None and 'nominal_capacity = "123 mAh"' in hints
    plan = plan_from_texts(toml, hints)
    one_c = 0.123  # A: their sample's 123 mAh
    first = plan.steps[1]
    assert first.kind == "cc" and first.current_A == pytest.approx(0.1 * one_c)
    assert first.condition("voltage_above").value == 2.0  # type: ignore[union-attr]
    # loop_to = 4, cycle_count = 3 (TOTAL passes): steps 4-6 three times
    loop = plan.body[3]
    assert isinstance(loop, Loop) and loop.count == 3 and len(loop.body) == 3
    # loop_to = 8 twice: steps 8-10 ×24 inside steps 8-14 ×20, as their PyBaMM export
    # unrolls it (the inner count restarts on each outer pass)
    outer = plan.body[4]
    assert isinstance(outer, Loop) and outer.count == 20
    inner = outer.body[0]
    assert isinstance(inner, Loop) and inner.count == 24
    cv = plan.steps[4]
    assert cv.kind == "cv" and cv.condition("current_below").value == pytest.approx(0.05 * one_c)  # type: ignore[union-attr]
    assert len(list(expanded(plan.body))) == 3 + 3 * 3 + 20 * (24 * 3 + 3)
    assert {s.quantity: s.hold_s for s in plan.safety} == {
        "voltage_max": 10.0,
        "voltage_min": 10.0,
        "current_max": 10.0,
    }
    assert plan.record.every_s == 10 and plan.record.delta_I == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step": "constant_power", "power_W": 1}, r"method\[1\]: step 'constant_power'"),
        ({"step": "loop", "loop_to": "nowhere", "cycle_count": 2}, "no tag 'nowhere'"),
        ({"step": "constant_current", "rate_C": 0.1, "until_temp": 3}, "unknown field"),
        (
            {"step": "impedance_spectroscopy", "amplitude_V": 0.01, "start_frequency_Hz": 1e5,
             "end_frequency_Hz": 1, "drift_correction": True},
            "drift_correction",
        ),
    ],
)  # fmt: skip
def test_what_has_no_equivalent_is_refused(
    change: dict[str, object], message: str, tmp_path: Path
) -> None:
    doc = {
        "record": {"time_s": 10},
        "method": [{"step": "open_circuit_voltage", "until_time_s": 60}, change],
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProtocolIOError, match=message):
        import_protocol(path)
