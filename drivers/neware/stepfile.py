"""One bound Step as a Neware step file (BTS 8 ``.xml``), and back.

The shape follows step files written by BTS Client 8.0 as public code reproduces them
(``<root><config type="Step File" …><Head_Info>…<Whole_Prt><Record>…<Step_Info Num=…>
<Step1 Step_ID="1" Step_Type=…><Record>…<Limit><Main>…``, then an END step) and the
step-type codes and units those files use:

=====================  ==========  =====================================================
Step_Type              ours        Limit/Main
=====================  ==========  =====================================================
1 CC CHG / 2 CC DCHG   cc          Curr (mA, unsigned), Stop_Volt, Time, Cap
3 CV CHG / 19 DCHG     cv          Curr (current limit), Volt (0.1 mV), Stop_Curr (mA),
                                   Time, Cap
4 REST                 rest        Time (ms)
6 END                  —           —
=====================  ==========  =====================================================

A CC-CV step is written as a CC step that ends on the CV voltage followed by a CV step at
that voltage whose current limit is the CC current, as aurora-unicycler's
``_formats/neware.py`` writes a CV after a CC (and the captured BTS 8.0 records of
aurora-neware show only cc / dc / cv / rest step types; BTS's own combined CCCV types 7/20
are confirmed by no public file, so they are not used). The step's time and charge limits
go on both parts (BTS counts each part from 0): the driver holds the whole step to them
on the records (``driver``). Records of the second part carry ``stepid`` 2.

Record conditions (per step and in ``Whole_Prt``): Time (ms), Volt (0.1 mV), Curr (mA).
Unconfirmed: ``Cap`` in mA·s (one public file: 1.54 mA with Cap 5544 for one hour),
whether BTS checks ``client_version``/``Guid``, ``Remark`` carrying the step's name, the
record step type of a discharging CV (``dv``), and what a CV step without ``Curr`` limits
its current to (the channel's maximum, we assume: so the driver always writes one).

Loops: the driver sends ONE step per ``start``, so a file holds one working step (two for
CC-CV) and END.
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

CC_CHARGE, CC_DISCHARGE, CV_CHARGE, REST, END = 1, 2, 3, 4, 6
CV_DISCHARGE = 19
_KIND = {
    CC_CHARGE: ("cc", 1.0),
    CC_DISCHARGE: ("cc", -1.0),
    CV_CHARGE: ("cv", 1.0),
    CV_DISCHARGE: ("cv", -1.0),
    REST: ("rest", 0.0),
}
#: The record's ``steptype`` a download shows for each step type.
RECORD_STEPTYPE = {
    CC_CHARGE: "cc",
    CC_DISCHARGE: "dc",
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
class Part:
    """One working step of a file as BTS runs it: its Step_Type and its own limits."""

    step_type: int
    step: Step  # kind cc / cv / rest; a CV's current_A is its current limit (unsigned)

    @property
    def record_steptype(self) -> str:
        return RECORD_STEPTYPE[self.step_type]


@dataclass(frozen=True, slots=True)
class StepFile:
    """What a step file says: the step (a CC + CV pair read back as one ``cccv``), its
    first Step_Type, its direction (+1, -1, 0), and the parts BTS runs one after the other."""

    step: Step
    step_type: int
    direction: float
    parts: tuple[Part, ...] = ()

    @property
    def record_steptype(self) -> str:
        return RECORD_STEPTYPE[self.step_type]

    @property
    def record_steptypes(self) -> frozenset[str]:
        """The ``steptype`` of every record a test of this file may show."""
        return frozenset(p.record_steptype for p in self.parts) or frozenset({self.record_steptype})


def direction(code: int) -> float:
    """+1 for a charging Step_Type, -1 discharging, 0 rest: the sign of the record's cap."""
    return _KIND[code][1] if code in _KIND else 0.0


def record_steptypes(step: Step, *, cv_charge: bool | None = None) -> frozenset[str]:
    """The record step types a test of ``step`` shows (CC-CV: the CC's, then the CV's)."""
    code = step_type(step, cv_charge=cv_charge)
    if step.kind != "cccv":
        return frozenset({RECORD_STEPTYPE[code]})
    cv = CV_CHARGE if code == CC_CHARGE else CV_DISCHARGE
    return frozenset({RECORD_STEPTYPE[code], RECORD_STEPTYPE[cv]})


def step_type(step: Step, *, cv_charge: bool | None = None) -> int:
    """The (first) Step_Type of a bound step; a CV hold's direction comes from ``cv_charge``.

    A CC-CV step's first part is its CC step: 1 charging, 2 discharging.
    """
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
    return CC_CHARGE if current > 0 else CC_DISCHARGE


def build_stepfile(
    step: Step,
    *,
    created: datetime,
    cv_charge: bool | None = None,
    cv_current_limit_A: float | None = None,
) -> str:
    """The step file text for one bound step followed by END.

    ``step.record`` must name at least one record criterion (a step file needs one). A CV
    hold needs ``cv_current_limit_A`` (the driver passes the protocol's); a CC-CV step's CV
    part is limited to the CC current.
    """
    record = (step.record.every_s, step.record.delta_V, step.record.delta_I)
    if all(v is None for v in record):
        raise StepFileError(f"step {step.name!r}: a step file needs a record criterion")
    parts = step_parts(step, cv_charge=cv_charge, cv_current_limit_A=cv_current_limit_A)

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
    whole_prt = ET.SubElement(config, "Whole_Prt")
    whole_prt.append(record_element(step.record))
    info = ET.SubElement(config, "Step_Info", Num=str(len(parts) + 1))
    for n, (part_code, limits) in enumerate(parts, start=1):
        info.append(step_element(n, part_code, limits, step.record))
    end = len(parts) + 1
    ET.SubElement(info, f"Step{end}", Step_ID=str(end), Step_Type=str(END))
    smbus = ET.SubElement(config, "SMBUS")
    ET.SubElement(smbus, "SMBUS_Info", Num="0", AdjacentInterval="0")
    # the same file gets the same Guid: a hash of everything else in it
    config.set("Guid", str(uuid.uuid5(uuid.NAMESPACE_OID, ET.tostring(root, encoding="unicode"))))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def step_parts(
    step: Step, *, cv_charge: bool | None = None, cv_current_limit_A: float | None = None
) -> list[tuple[int, list[tuple[str, str]]]]:
    """The Step_Type and ``<Limit><Main>`` entries of each working step BTS runs for
    ``step`` (two for CC-CV), as :func:`build_stepfile` writes them; whole-protocol step
    files (``cyclerctl.protocol_io``) write the same."""
    code = step_type(step, cv_charge=cv_charge)
    kind, sign = _KIND[code]
    parts: list[tuple[int, list[tuple[str, str]]]] = []
    if step.kind == "cccv":
        current = _num(abs(_float(step.current_A, step, "current")) * MA_PER_A)
        volt = _volt(_float(step.voltage_V, step, "voltage"))
        ends = _written(step, "cccv", sign)
        whole = [_limit(c) for c in ends if c.kind in ("time", "charge")]
        parts.append((code, [("Curr", current), ("Stop_Volt", volt), *whole]))
        cv_code = CV_CHARGE if sign > 0 else CV_DISCHARGE
        parts.append((cv_code, [("Curr", current), ("Volt", volt), *map(_limit, ends)]))
    else:
        main: list[tuple[str, str]] = []
        if kind == "cc":
            main.append(("Curr", _num(abs(_float(step.current_A, step, "current")) * MA_PER_A)))
        if kind == "cv":
            if cv_current_limit_A is None or not cv_current_limit_A > 0:
                raise StepFileError(f"step {step.name!r}: a CV hold needs a current limit > 0")
            main.append(("Curr", _num(abs(cv_current_limit_A) * MA_PER_A)))
            main.append(("Volt", _volt(_float(step.voltage_V, step, "voltage"))))
        main += [_limit(c) for c in _written(step, kind, sign)]
        parts.append((code, main))
    return parts


def step_element(
    number: int, code: int, limits: list[tuple[str, str]], record: RecordCriteria
) -> ET.Element:
    """``<StepN Step_ID=N Step_Type=…><Record>…<Limit><Main>…`` for one working step."""
    element = ET.Element(f"Step{number}", Step_ID=str(number), Step_Type=str(code))
    element.append(record_element(record))
    main_element = ET.SubElement(ET.SubElement(element, "Limit"), "Main")
    for tag, value in limits:
        ET.SubElement(main_element, tag, Value=value)
    return element


def parse_part(element: ET.Element, whole: ET.Element | None) -> Part:
    """One working step element (a ``<StepN>`` of Step_Type 1, 2, 3, 4 or 19)."""
    return _part(element, whole)


def parse_stepfile(text: str | bytes) -> StepFile:
    """The working step(s) of a step file (the emulator runs them on a simulated channel).

    One working step, or a CC step ending on a voltage followed by a CV step at that
    voltage in the same direction (read back as one ``cccv`` step).
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise StepFileError(f"not a step file: {exc}") from None
    info = root.find("./config/Step_Info")
    if info is None:
        raise StepFileError("not a step file: no <Step_Info>")
    working = [s for s in info if s.get("Step_Type") != str(END)]
    remark = root.find("./config/Head_Info/Remark")
    whole = root.find("./config/Whole_Prt/Record")
    parts = tuple(_part(e, whole) for e in working)
    name = None if remark is None else remark.get("Value")
    if len(parts) == 1:
        part = parts[0]
        step = part.step
        if step.kind == "cv":  # a CV hold's Curr is its limit, not a set point
            step = dataclasses.replace(step, current_A=None)
        step = dataclasses.replace(step, name=name or step.kind)
        return StepFile(step, part.step_type, direction(part.step_type), parts)
    if len(parts) == 2:
        cc, cv = parts
        sign = direction(cc.step_type)
        switch = cc.step.condition("voltage_above" if sign > 0 else "voltage_below")
        if (
            cc.step.kind == "cc"
            and cv.step.kind == "cv"
            and direction(cv.step_type) == sign
            and switch is not None
            and switch.value == cv.step.voltage_V
        ):
            step = dataclasses.replace(
                cv.step, name=name or "cccv", kind="cccv", current_A=cc.step.current_A
            )
            return StepFile(step, cc.step_type, sign, parts)
    raise StepFileError(
        f"expected one working step (or CC then CV at its voltage) and END, "
        f"found {len(parts)} steps"
    )


def _part(element: ET.Element, whole: ET.Element | None) -> Part:
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
            # a CC's set point (signed); a CV's current limit (unsigned)
            current = (sign if kind == "cc" else 1.0) * value / MA_PER_A
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
    step = Step(
        index=0,
        name=kind,
        kind=kind,  # type: ignore[arg-type]  # one of _KIND's kinds
        ends=tuple(ends),
        record=_parse_record(_first(element.find("Record"), whole)),
        current_A=current,
        voltage_V=voltage,
    )
    return Part(code, step)


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


def record_element(criteria: RecordCriteria) -> ET.Element:
    """``<Record><Main>`` with the record criteria in BTS units."""
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
