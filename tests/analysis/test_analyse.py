"""``analyse`` dispatches on the protocol's analysis kind; cycling works on RunData too."""

from __future__ import annotations

import pytest

from cyclerctl.analysis import KINDS, Analysis, RunData, analyse
from cyclerctl.store import StepRecord
from tests.analysis.factory import cell


def _steps() -> tuple[StepRecord, ...]:
    out: list[StepRecord] = []
    for k in (1, 2, 3):
        for name, q_in, q_out in (("charge", 1.0e-3, 0.0), ("discharge", 0.0, 0.99e-3 - k * 1e-5)):
            out.append(
                StepRecord(
                    step=len(out) + 1,
                    plan_index=0,
                    name=name,
                    kind="cc",
                    cycle=k,
                    loop_counters=(k - 1,),
                    t_start=0.0,
                    t_end=1.0,
                    end_reason="limit:voltage",
                    charge_Ah=q_in,
                    discharge_Ah=q_out,
                )
            )
    return tuple(out)


def test_no_kind_is_no_analysis() -> None:
    assert analyse(RunData(cell=cell())) == Analysis("none", {})


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown analysis kind 'sigma'; known: cycling, "):
        analyse(RunData(cell=cell(), options={"kind": "sigma"}))


def test_kinds_and_versions() -> None:
    assert set(KINDS) == {
        "cycling", "conductivity", "arrhenius", "lsv-onset", "li-cu-ce", "ccd",
        "li-li-cycling", "nucleation", "bruce-vincent", "rate-capability",
    }  # fmt: skip
    for kind in KINDS:  # an empty run gives no results, never an error
        result = analyse(RunData(cell=cell(), options={"kind": kind}))
        # /2: the complete results of issue 15 (new results and tables, cycling's columns
        # renamed); LSV and Li‖Li cycling are unchanged
        assert result.version == f"{kind}/{1 if kind in ('lsv-onset', 'li-li-cycling') else 2}"


def test_cycling_on_run_data() -> None:
    c = cell(nominal_capacity_Ah=1e-3, active_mass_kg=5e-6)
    run = RunData(cell=c, options={"kind": "cycling", "formation_cycles": 1}, steps=_steps())
    results = analyse(run).results
    assert results["cycles_completed"].value == 3
    assert results["first_discharge_capacity_mAh_g"].value == pytest.approx(0.98 / 5e-3)
    assert results["capacity_retention"].value == pytest.approx(0.96 / 0.97)
    assert results["mean_ce"].value == pytest.approx((0.97 + 0.96) / 2)
