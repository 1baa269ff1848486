from __future__ import annotations

import pytest

from cyclerctl.engine.program import positions, positions_from, total_positions
from cyclerctl.plan import EndCondition, Loop, Plan, Ref

from .factory import plan, step, until_time


def _two_loops() -> Plan:
    return plan(
        step("ocv", ends=until_time(60)),
        Loop(
            "formation", 2, (step("ch", "cc", current_A=1e-4), step("dis", "cc", current_A=-1e-4))
        ),
        Loop("cycling", 3, (step("ch", "cc", current_A=2e-4), step("dis", "cc", current_A=-2e-4))),
    )


def test_cycles_number_across_loops_and_ordinals_count_every_step() -> None:
    p = _two_loops()
    seen = [(pos.ordinal, pos.step.index, pos.counters, pos.cycle) for pos in positions(p)]
    assert seen[0] == (1, 0, (), 0)
    assert [s[3] for s in seen] == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [s[1] for s in seen[1:5]] == [1, 2, 1, 2]
    assert seen[-1] == (11, 4, (2,), 5)
    assert total_positions(p) == len(seen) == 11


def test_nested_loop_counts_cycles_only_inside() -> None:
    inner = Loop("inner", 2, (step("a", "cc", current_A=1e-4),))
    p = plan(Loop("outer", 3, (inner,), counts_cycles=False))
    got = [(pos.counters, pos.cycle) for pos in positions(p)]
    assert got == [((0, 0), 1), ((0, 1), 2), ((1, 0), 3), ((1, 1), 4), ((2, 0), 5), ((2, 1), 6)]


def test_loop_variable_binds_each_iteration() -> None:
    ramp = Loop(
        "ramp",
        3,
        (
            step(
                "plate",
                "cc",
                current_A=Ref("j", -2.0),
                ends=(EndCondition("charge", Ref("j", 10.0)),),
            ),
        ),
        variable="j",
        values=(1e-3, 2e-3, 3e-3),
    )
    got = [pos.step for pos in positions(plan(ramp))]
    assert [s.current_A for s in got] == pytest.approx([-2e-3, -4e-3, -6e-3])
    assert [s.ends[0].value for s in got] == pytest.approx([1e-2, 2e-2, 3e-2])
    assert all(s.is_bound for s in got)


def test_resume_reenters_at_the_checkpointed_position_and_keeps_numbering() -> None:
    p = _two_loops()
    full = list(positions(p))
    target = full[6]
    resumed = list(positions_from(p, *target.key))
    assert resumed == full[6:]
    assert resumed[0].cycle == target.cycle and resumed[0].ordinal == target.ordinal


def test_resume_at_a_position_the_plan_lacks_is_an_error() -> None:
    with pytest.raises(ValueError, match="no step"):
        list(positions_from(_two_loops(), 1, (7,)))
