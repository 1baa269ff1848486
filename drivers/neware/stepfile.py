"""One bound Step as a Neware step file (BTS 8 ``.xml``), and back.

The shape follows step files written by BTS Client 8.0 as public code reproduces them
(``<root><config type="Step File" …><Head_Info>…<Whole_Prt><Record>…<Step_Info Num=…>
<Step1 Step_ID="1" Step_Type=…><Record>…<Limit><Main>…``, then an END step) and the
step-type codes and units those files use:

=====================  ==========  =====================================================
Step_Type              ours        Limit/Main
=====================  ==========  =====================================================
1 CC CHG / 2 CC DCHG   cc          Curr (mA, unsigned), Stop_Volt, Time, Cap
7 CCCV CHG / 20 DCHG   cccv        Curr, Volt (0.1 mV), Stop_Curr (mA), Time, Cap
3 CV CHG / 19 DCHG     cv          Curr (current limit), Volt, Stop_Curr, Time, Cap
4 REST                 rest        Time (ms)
6 END                  —           —
=====================  ==========  =====================================================

Record conditions (per step and in ``Whole_Prt``): Time (ms), Volt (0.1 mV), Curr (mA).
Unconfirmed: ``Cap`` in mA·s (one public file: 1.54 mA with Cap 5544 for one hour),
whether BTS checks ``client_version``/``Guid``, and ``Remark`` carrying the step's name.

Loops: the driver sends ONE step per ``start``, so a file holds one working step and END.
That keeps the loop structure, checkpoints and resume in the engine, where they are for
every other instrument; the price is a short pause at each step boundary while the host
starts the next. Uploading a whole loop (CYCLE, Step_Type 5) is a later improvement.

Only the conditions a step file can end on are written (voltage, current, time, charge);
the engine evaluates the others (dV/dt, short) on the downloaded records and stops the
channel. A condition the file cannot express for its step type (a CC charge ending on
*falling* voltage, a rest ending on voltage) raises ``StepFileError``: neither side would
watch it otherwise.
"""

from __future__ import annotations

import dataclasses
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from cyclerctl.plan import ConditionKind, EndCondition, RecordCriteria, Step

#: The conditions a step file ends a step on; the engine evaluates the rest.
NATIVE_CONDITIONS: frozenset[str] = frozenset(
    {"voltage_above", "voltage_below", "current_below", "time", "charge"}
)
STEP_KINDS: frozenset[str] = frozenset({"rest", "cc", "cv", "cccv"})

CC_CHARGE, CC_DISCHARGE, CV_CHARGE, REST, END, CCCV_CHARGE = 1, 2, 3, 4, 6, 7
CV_DISCHARGE, CCCV_DISCHARGE = 19, 20
_KIND = {
    CC_CHARGE: ("cc", 1.0),
    CC_DISCHARGE: ("cc", -1.0),
    CCCV_CHARGE: ("cccv", 1.0),
    CCCV_DISCHARGE: ("cccv", -1.0),
    CV_CHARGE: ("cv", 1.0),
    CV_DISCHARGE: ("cv", -1.0),
    REST: ("rest", 0.0),
}
#: The record's ``steptype`` a download shows for each step type.
RECORD_STEPTYPE = {
    CC_CHARGE: "cc",
    CC_DISCHARGE: "dc",
    CCCV_CHARGE: "cccv",
    CCCV_DISCHARGE: "cccd",
    CV_CHARGE: "cv",
    CV_DISCHARGE: "dv",
    REST: "rest",
}

# wire units per SI unit
MA_PER_A = 1000.0
VOLT_UNITS_PER_V = 10000.0  # 0.1 mV
MS_PER_S = 1000.0
MAS_PER_C = 1000.0  # mA·s (unconfirmed)

CONFIG_VERSION = "17"
CLIENT_VERSION = "cyclerctl"


class StepFileError(ValueError):
    """A step a Neware step file cannot express."""


@dataclass(frozen=True, slots=True)
class StepFile:
    """What a step file says: the step, its Step_Type code, and its direction (+1, -1, 0)."""

    step: Step
    step_type: int
    direction: float

    @property
    def record_steptype(self) -> str:
        return RECORD_STEPTYPE[self.step_type]


def direction(code: int) -> float:
    """+1 for a charging Step_Type, -1 discharging, 0 rest: the sign of the record's cap."""
    return _KIND[code][1] if code in _KIND else 0.0


def step_type(step: Step, *, cv_charge: bool | None = None) -> int:
    """The Step_Type of a bound step; a CV hold's direction comes from ``cv_charge``."""
    if step.kind not in STEP_KINDS:
        raise StepFileError(
            f"step {step.name!r}: a Neware channel cannot run {step.kind} steps "
            f"(it runs {', '.join(sorted(STEP_KINDS))})"
        )
    if step.kind == "rest":
        return REST
    if step.kind == "cv":
        if cv_charge is None:
            raise StepFileError(f"step {step.name!r}: say whether the CV hold charges or not")
        return CV_CHARGE if cv_charge else CV_DISCHARGE
    current = _float(step.current_A, step, "current")
    if current == 0:
        raise StepFileError(f"step {step.name!r}: a Neware {step.kind} step needs a current ≠ 0")
    if step.kind == "cc":
        return CC_CHARGE if current > 0 else CC_DISCHARGE
    return CCCV_CHARGE if current > 0 else CCCV_DISCHARGE


def build_stepfile(
    step: Step,
    *,
    created: datetime,
    cv_charge: bool | None = None,
    cv_current_limit_A: float = 0.1,
) -> str:
    """The step file text for one bound step followed by END.

    ``step.record`` must name at least one record criterion (a step file needs one).
    """
    code = step_type(step, cv_charge=cv_charge)
    kind, sign = _KIND[code]
    record = (step.record.every_s, step.record.delta_V, step.record.delta_I)
    if all(v is None for v in record):
        raise StepFileError(f"step {step.name!r}: a step file needs a record criterion")
    main: list[tuple[str, str]] = []
    if kind in ("cc", "cccv"):
        main.append(("Curr", _num(abs(_float(step.current_A, step, "current")) * MA_PER_A)))
    if kind == "cv":
        main.append(("Curr", _num(abs(cv_current_limit_A) * MA_PER_A)))
    if kind in ("cv", "cccv"):
        main.append(("Volt", _volt(_float(step.voltage_V, step, "voltage"))))
    main += [_limit(c) for c in _written(step, kind, sign)]

    root = ET.Element("root")
    config = ET.SubElement(
        root,
        "config",
        type="Step File",
        version=CONFIG_VERSION,
        client_version=CLIENT_VERSION,
        date=created.strftime("%Y%m%d%H%M%S"),
    )
    head = ET.SubElement(config, "Head_Info")
    ET.SubElement(head, "Operate", Value="66")
    ET.SubElement(head, "Scale", Value="1")
    ET.SubElement(head, "Start_Step", Value="1", Hide_Ctrl_Step="0")
    ET.SubElement(head, "Creator", Value="cyclerctl")
    ET.SubElement(head, "Remark", Value=step.name)
    ET.SubElement(head, "RateType", Value="103")  # currents in mA, not C-rates
    ET.SubElement(head, "MultCap", Value="3600000")
    whole = ET.SubElement(config, "Whole_Prt")
    whole.append(_record(step.record))
    info = ET.SubElement(config, "Step_Info", Num="2")
    first = ET.SubElement(info, "Step1", Step_ID="1", Step_Type=str(code))
    first.append(_record(step.record))
    limits = ET.SubElement(ET.SubElement(first, "Limit"), "Main")
    for tag, value in main:
        ET.SubElement(limits, tag, Value=value)
    ET.SubElement(info, "Step2", Step_ID="2", Step_Type=str(END))
    smbus = ET.SubElement(config, "SMBUS")
    ET.SubElement(smbus, "SMBUS_Info", Num="0", AdjacentInterval="0")
    # the same file gets the same Guid: a hash of everything else in it
    config.set("Guid", str(uuid.uuid5(uuid.NAMESPACE_OID, ET.tostring(root, encoding="unicode"))))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def parse_stepfile(text: str | bytes) -> StepFile:
    """The working step of a step file (the emulator runs it on a simulated channel)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise StepFileError(f"not a step file: {exc}") from None
    info = root.find("./config/Step_Info")
    if info is None:
        raise StepFileError("not a step file: no <Step_Info>")
    working = [s for s in info if s.get("Step_Type") != str(END)]
    if len(working) != 1:
        raise StepFileError(f"expected one working step and END, found {len(working)} steps")
    element = working[0]
    code = int(element.get("Step_Type", "0"))
    if code not in _KIND:
        raise StepFileError(f"Step_Type {code} is not one this driver writes")
    kind, sign = _KIND[code]
    current: float | None = None
    voltage: float | None = None
    ends: list[EndCondition] = []
    main = element.find("./Limit/Main")
    for item in [] if main is None else list(main):
        value = float(item.get("Value", "nan"))
        if item.tag == "Curr":
            if kind != "cv":  # a CV hold's Curr is the channel's limit, not a set point
                current = sign * value / MA_PER_A
        elif item.tag == "Volt":
            voltage = value / VOLT_UNITS_PER_V
        elif item.tag == "Stop_Volt":
            kind_V: ConditionKind = "voltage_above" if sign > 0 else "voltage_below"
            ends.append(EndCondition(kind_V, value / VOLT_UNITS_PER_V))
        elif item.tag == "Stop_Curr":
            ends.append(EndCondition("current_below", value / MA_PER_A))
        elif item.tag == "Time":
            ends.append(EndCondition("time", value / MS_PER_S))
        elif item.tag == "Cap":
            ends.append(EndCondition("charge", value / MAS_PER_C))
    remark = root.find("./config/Head_Info/Remark")
    step = Step(
        index=0,
        name=kind if remark is None else remark.get("Value", kind),
        kind=kind,  # type: ignore[arg-type]  # one of _KIND's kinds
        ends=tuple(ends),
        record=_parse_record(
            _first(element.find("Record"), root.find("./config/Whole_Prt/Record"))
        ),
        current_A=current,
        voltage_V=voltage,
    )
    return StepFile(step, code, sign)


def with_progress(step: Step, elapsed_s: float, charge_C: float) -> Step:
    """A resumed step: the time and charge limits less what the step has already done."""
    if elapsed_s == 0 and charge_C == 0:
        return step
    ends = []
    for c in step.ends:
        if c.kind == "time":
            c = dataclasses.replace(c, value=max(_value(c) - elapsed_s, 0.0))
        elif c.kind == "charge":
            c = dataclasses.replace(c, value=max(_value(c) - abs(charge_C), 0.0))
        ends.append(c)
    return dataclasses.replace(step, ends=tuple(ends))


# -- helpers -----------------------------------------------------------------------------


def _written(step: Step, kind: str, sign: float) -> list[EndCondition]:
    """The step's native conditions in file order; one that cannot be written raises."""
    written: list[EndCondition] = []
    for c in step.ends:
        if c.kind not in NATIVE_CONDITIONS:
            continue  # the engine watches it
        if kind == "cccv" and c.kind == ("voltage_above" if sign > 0 else "voltage_below"):
            continue  # in CC-CV, reaching the CV voltage is the switch, not an end
        allowed = {
            "rest": {"time"},
            "cc": {"time", "charge", "voltage_above" if sign > 0 else "voltage_below"},
            "cccv": {"time", "charge", "current_below"},
            "cv": {"time", "charge", "current_below"},
        }[kind]
        if c.kind not in allowed:
            what = {1.0: "charge", -1.0: "discharge", 0.0: "rest"}[sign]
            raise StepFileError(
                f"step {step.name!r}: a Neware {kind} {what} step cannot end on {c.kind} "
                f"(it ends on {', '.join(sorted(allowed))})"
            )
        twin = next((w for w in written if w.kind == c.kind), None)
        if twin is not None:  # a file holds one limit of a kind: the first to be met
            if c.kind == "time" and _value(c) < _value(twin):
                written = [w for w in written if w is not twin] + [c]
            continue
        written.append(c)
    return written


def _limit(c: EndCondition) -> tuple[str, str]:
    value = _value(c)
    if c.kind in ("voltage_above", "voltage_below"):
        return "Stop_Volt", _volt(value)
    if c.kind == "current_below":
        return "Stop_Curr", _num(value * MA_PER_A)
    if c.kind == "time":
        return "Time", str(round(value * MS_PER_S))
    return "Cap", _num(value * MAS_PER_C)


def _record(criteria: RecordCriteria) -> ET.Element:
    record = ET.Element("Record")
    main = ET.SubElement(record, "Main")
    if criteria.every_s is not None:
        ET.SubElement(main, "Time", Value=str(round(criteria.every_s * MS_PER_S)))
    if criteria.delta_V is not None:
        ET.SubElement(main, "Volt", Value=_volt(criteria.delta_V))
    if criteria.delta_I is not None:
        ET.SubElement(main, "Curr", Value=_num(criteria.delta_I * MA_PER_A))
    return record


def _parse_record(record: ET.Element | None) -> RecordCriteria:
    values: dict[str, float] = {}
    for item in [] if record is None else record.findall("./Main/*"):
        values[item.tag] = float(item.get("Value", "nan"))
    return RecordCriteria(
        every_s=values["Time"] / MS_PER_S if "Time" in values else None,
        delta_V=values["Volt"] / VOLT_UNITS_PER_V if "Volt" in values else None,
        delta_I=values["Curr"] / MA_PER_A if "Curr" in values else None,
    )


def _first(*elements: ET.Element | None) -> ET.Element | None:
    return next((e for e in elements if e is not None), None)


def _num(value: float) -> str:
    """12 significant digits: the float noise of a unit conversion does not reach the file."""
    return f"{value:.12g}"


def _volt(value_V: float) -> str:
    return str(round(value_V * VOLT_UNITS_PER_V))


def _float(value: object, step: Step, what: str) -> float:
    if not isinstance(value, float | int):
        raise StepFileError(f"step {step.name!r}: no bound {what} (got {value!r})")
    return float(value)


def _value(c: EndCondition) -> float:
    if not isinstance(c.value, float | int):
        raise StepFileError(f"condition {c.kind}: unbound loop reference {c.value!r}")
    return float(c.value)
