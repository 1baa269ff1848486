"""Steps as techniques: limit-test words, long durations, charge, EIS and scan parameters —
and the emulator's independent reading of them gives the step back."""

from __future__ import annotations

import pytest

from cyclerctl.drivers.biologic import eclib_types as T
from cyclerctl.drivers.biologic.ecc_catalog import BY_STEM
from cyclerctl.drivers.biologic.eclib import Param
from cyclerctl.drivers.biologic.emulated_channel import LoadedTechnique, to_segment
from cyclerctl.drivers.biologic.techniques import (
    VAR_EWE,
    VAR_I,
    Settings,
    Technique,
    _config,
    plan_step,
)
from cyclerctl.plan import EisSettings, EndCondition, Step, SweepSettings

VMP3 = Settings(board_type=T.BOARD_ESSENTIAL)
VMP300 = Settings(board_type=T.BOARD_PREMIUM)


def values(technique: Technique, label: str) -> list[bool | int | float]:
    return [p.value for p in technique.params if p.label == label]


def value(technique: Technique, label: str) -> bool | int | float:
    (found,) = values(technique, label)
    return found


def ends(step: Step) -> list[tuple[str, object]]:
    return [(c.kind, c.value) for c in step.ends]


def as_loaded(technique: Technique, board: int = T.BOARD_ESSENTIAL) -> LoadedTechnique:
    params: dict[str, dict[int, bool | int | float]] = {}
    for p in technique.params:
        params.setdefault(p.label, {})[p.index] = p.value
    return LoadedTechnique(technique.ecc, technique.file_name(board), params)


def test_test_words_match_the_guides_vscanlimit_example() -> None:
    # "(E < 1.0 V) OR (AUX2 > 3.0 V)) AND (I < 0.05 A)": 1, 71, 97; "(I > 0.1 A)": 101
    assert _config(VAR_EWE, greater=False) == 1
    assert _config(2, greater=True, and_next=True) == 71
    assert _config(VAR_I, greater=False) == 97
    assert _config(VAR_I, greater=True) == 101


def test_a_charge_limit_at_constant_current_is_the_duration() -> None:
    step = Step(
        0,
        "plate",
        "cc",
        current_A=-1e-3,
        ends=(
            EndCondition("charge", 3.6),
            EndCondition("short", 0.5),
            EndCondition("time", 72000.0),
        ),
    )
    (technique,) = plan_step(step, VMP3).techniques
    assert technique.ecc.stem == "cp"  # no voltage or current limit: plain CP
    assert value(technique, "Duration_step") == pytest.approx(3600.0)
    assert technique.duration_reason == "limit:charge"
    # resumed 1000 s and 1 C into the step: the rest of the charge
    (resumed,) = plan_step(step, VMP3, elapsed_s=1000.0, charge_C=-1.0).techniques
    assert value(resumed, "Duration_step") == pytest.approx(2600.0)


def test_a_duration_longer_than_one_step_counts_is_split_over_steps() -> None:
    step = Step(
        0,
        "charge",
        "cc",
        current_A=1e-3,
        ends=(EndCondition("voltage_above", 4.2), EndCondition("time", 40 * 3600.0)),
    )
    (technique,) = plan_step(step, VMP300).techniques  # CPLIMIT4: 34 µs · 2³¹ = 20.3 h
    assert technique.file_name(T.BOARD_PREMIUM) == "cplimit4.ecc"
    assert values(technique, "Duration_step") == pytest.approx([20 * 3600.0] * 2)
    assert value(technique, "Step_number") == 1
    assert values(technique, "Test1_Config") == [5, 5]
    segment = to_segment(as_loaded(technique, T.BOARD_PREMIUM))
    assert ends(segment.step) == [("time", 40 * 3600.0), ("voltage_above", pytest.approx(4.2))]


def test_a_long_rest_is_several_linked_ocvs() -> None:
    plan = plan_step(Step(0, "rest", "rest", ends=(EndCondition("time", 30 * 3600.0),)), VMP3)
    assert [t.ecc.stem for t in plan.techniques] == ["ocv"] * 3  # 20 µs · 2³¹ = 11.9 h each
    total = sum(float(value(t, "Rest_time_T")) for t in plan.techniques)
    assert total == pytest.approx(30 * 3600.0)
    assert [t.ends_step for t in plan.techniques] == [False, False, True]


def test_a_cv_hold_ends_on_abs_i_as_two_anded_tests() -> None:
    step = Step(
        0,
        "hold",
        "cv",
        voltage_V=4.2,
        ends=(EndCondition("current_below", 5e-5), EndCondition("time", 3600.0)),
    )
    (technique,) = plan_step(step, VMP3).techniques
    assert technique.ecc.stem == "calimit"
    assert value(technique, "Test1_Config") == 1 | 2 | VAR_I << 5  # I ≤ x, AND
    assert value(technique, "Test1_Value") == pytest.approx(5e-5)
    assert value(technique, "Test2_Config") == 1 | 4 | VAR_I << 5  # I ≥ −x
    assert value(technique, "Test2_Value") == pytest.approx(-5e-5)
    segment = to_segment(as_loaded(technique))
    assert segment.step.kind == "cv" and segment.step.voltage_V == pytest.approx(4.2)
    assert ends(segment.step) == [("time", 3600.0), ("current_below", pytest.approx(5e-5))]


def test_a_rest_with_a_voltage_limit_is_watched_by_the_channel() -> None:
    step = Step(
        0, "rest", "rest", ends=(EndCondition("time", 600.0), EndCondition("voltage_below", 3.0))
    )
    plan = plan_step(step, VMP3)
    assert plan.watched == (EndCondition("voltage_below", 3.0),)  # OCV has no limits


def test_eis_at_ocv_is_peis_with_a_whole_number_of_points() -> None:
    settings = EisSettings("potentiostatic", 1e5, 0.1, 0.01, 10)
    (technique,) = plan_step(Step(0, "eis", "eis", eis=settings), VMP3).techniques
    assert technique.ecc.stem == "peis"
    assert value(technique, "Frequency_number") == 61
    assert value(technique, "vs_initial") is True  # 0 V vs the initial potential: the OCV
    assert value(technique, "sweep") is False  # logarithmic
    segment = to_segment(as_loaded(technique))
    assert segment.step.eis is not None
    assert segment.step.eis.points_per_decade == 10 and segment.step.eis.bias_V is None


def test_a_cyclic_sweep_unrolls_its_cycles_into_vertices() -> None:
    settings = SweepSettings(0.01, (4.5, 3.0), start_V=3.5, cycles=2)
    (technique,) = plan_step(Step(0, "cv", "sweep", sweep=settings), VMP3).techniques
    assert technique.ecc.stem == "vscan"
    assert values(technique, "Voltage_step") == pytest.approx([3.5, 4.5, 3.0, 4.5, 3.0])
    assert value(technique, "Scan_number") == 3  # four scans
    segment = to_segment(as_loaded(technique))
    assert segment.step.sweep is not None
    assert segment.step.sweep.vertices_V == pytest.approx((4.5, 3.0, 4.5, 3.0))


def test_every_label_written_is_one_the_guide_documents() -> None:
    steps = [
        Step(0, "r", "rest", ends=(EndCondition("time", 10.0),)),
        Step(0, "c", "cc", current_A=1e-3, ends=(EndCondition("voltage_above", 4.2),)),
        Step(0, "v", "cv", voltage_V=4.2, ends=(EndCondition("current_below", 1e-4),)),
        Step(
            0,
            "cccv",
            "cccv",
            current_A=1e-3,
            voltage_V=4.2,
            ends=(EndCondition("current_below", 1e-4),),
        ),
        Step(0, "e", "eis", eis=EisSettings("galvanostatic", 1e4, 1.0, 1e-4, 5)),
        Step(0, "s", "sweep", sweep=SweepSettings(1e-3, (5.0,))),
    ]
    for step in steps:
        for technique in plan_step(step, VMP3).techniques:
            ecc = BY_STEM[technique.ecc.stem]
            for p in technique.params:
                assert isinstance(p, Param)
                assert p.label in ecc.params or p.label in ("I_Range", "E_Range", "Bandwidth"), p
