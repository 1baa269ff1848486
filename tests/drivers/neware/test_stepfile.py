"""Bound steps as Neware step files: the exact XML for each kind, and parsed back."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

import pytest

from cyclerctl.drivers.neware.stepfile import (
    StepFileError,
    build_stepfile,
    parse_stepfile,
    with_progress,
)
from cyclerctl.plan import EndCondition, RecordCriteria, Step

CREATED = datetime(2025, 1, 2, 3, 4, 5)
RECORD = RecordCriteria(every_s=10.0, delta_V=0.005)

HEAD = """\
<?xml version="1.0" encoding="utf-8"?>
<root>
  <config type="Step File" version="17" client_version="cyclerctl" date="20250102030405" \
Guid="*">
    <Head_Info>
      <Operate Value="66" />
      <Scale Value="1" />
      <Start_Step Value="1" Hide_Ctrl_Step="0" />
      <Creator Value="cyclerctl" />
      <Remark Value="{name}" />
      <RateType Value="103" />
      <MultCap Value="3600000" />
    </Head_Info>
    <Whole_Prt>
      <Record>
        <Main>
{record}
        </Main>
      </Record>
    </Whole_Prt>
    <Step_Info Num="2">
      <Step1 Step_ID="1" Step_Type="{code}">
        <Record>
          <Main>
{step_record}
          </Main>
        </Record>
        <Limit>
          <Main>
{limits}
          </Main>
        </Limit>
      </Step1>
      <Step2 Step_ID="2" Step_Type="6" />
    </Step_Info>
    <SMBUS>
      <SMBUS_Info Num="0" AdjacentInterval="0" />
    </SMBUS>
  </config>
</root>
"""
RECORD_LINES = ['<Time Value="10000" />', '<Volt Value="50" />']


def expected(name: str, code: int, limits: list[str], record: list[str] = RECORD_LINES) -> str:
    return HEAD.format(
        name=name,
        code=code,
        record="\n".join(" " * 10 + line for line in record),
        step_record="\n".join(" " * 12 + line for line in record),
        limits="\n".join(" " * 12 + line for line in limits),
    )


def written(step: Step, **kwargs: object) -> str:
    text = build_stepfile(step, created=CREATED, **kwargs)  # type: ignore[arg-type]
    return re.sub(r'Guid="[^"]*"', 'Guid="*"', text)


def cc(current: float, *ends: EndCondition, name: str = "cc") -> Step:
    return Step(0, name, "cc", ends=ends, record=RECORD, current_A=current)


def test_cc_discharge_to_a_voltage_or_a_time() -> None:
    step = cc(-0.0015, EndCondition("voltage_below", 3.0), EndCondition("time", 54000.0),
              name="discharge")  # fmt: skip
    assert written(step) == expected(
        "discharge",
        2,
        ['<Curr Value="1.5" />', '<Stop_Volt Value="30000" />', '<Time Value="54000000" />'],
    )
    assert parse_stepfile(written(step)).step == step


def test_cc_charge_to_a_charge_a_voltage_or_a_time() -> None:
    step = cc(
        0.0005,
        EndCondition("charge", 1.8),
        EndCondition("voltage_above", 1.0),
        EndCondition("short", 0.5),  # the engine watches this one
        EndCondition("time", 18000.0),
        name="cycle strip",
    )
    assert written(step) == expected(
        "cycle strip",
        1,
        [
            '<Curr Value="0.5" />',
            '<Cap Value="1800" />',
            '<Stop_Volt Value="10000" />',
            '<Time Value="18000000" />',
        ],
    )
    back = parse_stepfile(written(step))
    assert back.step == Step(0, "cycle strip", "cc", ends=(
        EndCondition("charge", 1.8), EndCondition("voltage_above", 1.0),
        EndCondition("time", 18000.0),
    ), record=RECORD, current_A=0.0005)  # fmt: skip
    assert back.direction == 1.0 and back.record_steptype == "cc"


def test_cccv_charge_is_written_as_a_cc_step_then_a_cv_step_at_its_current() -> None:
    """As aurora-unicycler writes a CV after a CC (``Curr`` the CC's current); BTS's
    combined CCCV Step_Type 7 is in no public file, so it is not used."""
    step = Step(
        0,
        "charge",
        "cccv",
        ends=(EndCondition("current_below", 1e-5), EndCondition("time", 54000.0)),
        record=RecordCriteria(every_s=1.0),
        current_A=0.0002,
        voltage_V=4.3,
    )
    text = written(step)
    one = expected(
        "charge",
        1,
        ['<Curr Value="0.2" />', '<Stop_Volt Value="43000" />', '<Time Value="54000000" />'],
        record=['<Time Value="1000" />'],
    )
    assert text.startswith(one[: one.index('    <Step_Info Num="2">')])
    steps = text[text.index("<Step_Info") : text.index("</Step_Info>")]
    assert steps == (
        '<Step_Info Num="3">\n'
        '      <Step1 Step_ID="1" Step_Type="1">\n'
        '        <Record>\n          <Main>\n            <Time Value="1000" />\n'
        '          </Main>\n        </Record>\n'
        '        <Limit>\n          <Main>\n'
        '            <Curr Value="0.2" />\n            <Stop_Volt Value="43000" />\n'
        '            <Time Value="54000000" />\n'
        '          </Main>\n        </Limit>\n      </Step1>\n'
        '      <Step2 Step_ID="2" Step_Type="3">\n'
        '        <Record>\n          <Main>\n            <Time Value="1000" />\n'
        '          </Main>\n        </Record>\n'
        '        <Limit>\n          <Main>\n'
        '            <Curr Value="0.2" />\n            <Volt Value="43000" />\n'
        '            <Stop_Curr Value="0.01" />\n            <Time Value="54000000" />\n'
        '          </Main>\n        </Limit>\n      </Step2>\n'
        '      <Step3 Step_ID="3" Step_Type="6" />\n    '
    )  # fmt: skip
    back = parse_stepfile(text)
    assert back.step == step and back.direction == 1.0
    assert [p.record_steptype for p in back.parts] == ["cc", "cv"]
    assert back.record_steptypes == {"cc", "cv"}
    discharge = parse_stepfile(written(dataclasses.replace(step, current_A=-0.0002, voltage_V=3.0,
                                                           name="dis")))  # fmt: skip
    assert [p.step_type for p in discharge.parts] == [2, 19]


def test_cv_hold_takes_its_direction_and_the_current_limit_it_is_given() -> None:
    step = Step(0, "hold", "cv", ends=(EndCondition("current_below", 2e-5),), record=RECORD,
                voltage_V=3.7)  # fmt: skip
    assert written(step, cv_charge=False, cv_current_limit_A=0.01) == expected(
        "hold", 19, ['<Curr Value="10" />', '<Volt Value="37000" />', '<Stop_Curr Value="0.02" />']
    )
    back = parse_stepfile(written(step, cv_charge=False, cv_current_limit_A=0.01))
    assert back.step == step and back.direction == -1.0 and back.record_steptype == "dv"
    assert back.parts[0].step.current_A == 0.01  # the limit, for the emulator
    assert parse_stepfile(written(step, cv_charge=True, cv_current_limit_A=1e-4)).step_type == 3
    with pytest.raises(StepFileError, match="current limit"):
        written(step, cv_charge=True)  # no limit: never the channel's maximum by default


def test_rest_for_a_time() -> None:
    step = Step(0, "rest", "rest", ends=(EndCondition("time", 600.0),), record=RECORD)
    assert written(step) == expected("rest", 4, ['<Time Value="600000" />'])
    assert parse_stepfile(written(step)).step == step


def test_the_same_file_has_the_same_guid() -> None:
    a = cc(-0.001, EndCondition("time", 60.0))
    b = cc(-0.002, EndCondition("time", 60.0))

    def guid(step: Step) -> str:
        match = re.search(r'Guid="([^"]*)"', build_stepfile(step, created=CREATED))
        assert match is not None
        return match.group(1)

    assert guid(a) == guid(a) != guid(b)


@pytest.mark.parametrize(
    ("step", "complaint"),
    [
        (cc(0.001, EndCondition("voltage_below", 3.0)), "cannot end on voltage_below"),
        (cc(-0.001, EndCondition("current_below", 1e-5)), "cannot end on current_below"),
        (Step(0, "rest", "rest", ends=(EndCondition("voltage_above", 4.0),), record=RECORD),
         "cannot end on voltage_above"),
        (cc(0.0, EndCondition("time", 1.0)), "needs a current"),
        (Step(0, "eis", "eis", record=RECORD), "cannot run eis"),
        (Step(0, "rest", "rest", ends=(EndCondition("time", 1.0),)), "record criterion"),
    ],
)  # fmt: skip
def test_what_a_step_file_cannot_say_is_refused(step: Step, complaint: str) -> None:
    with pytest.raises(StepFileError, match=complaint):
        build_stepfile(step, created=CREATED)


def test_a_resumed_step_runs_for_what_is_left() -> None:
    step = cc(-0.001, EndCondition("charge", 3.6), EndCondition("time", 3600.0))
    resumed = with_progress(step, 600.0, -0.6)
    assert resumed.ends == (EndCondition("charge", 3.0), EndCondition("time", 3000.0))
    assert with_progress(step, 0.0, 0.0) is step


def test_the_earliest_of_two_time_limits_is_written() -> None:
    step = cc(-0.001, EndCondition("time", 7200.0), EndCondition("time", 3600.0))
    assert parse_stepfile(written(step)).step.ends == (EndCondition("time", 3600.0),)
