"""EC-Lab settings (``.mps``) → our protocol file, and the header's cell hints.

Techniques read (each sequence ``Ns`` of a technique becomes one or more steps):

=========================================  ===================================================
technique                                  steps
=========================================  ===================================================
Open Circuit Voltage                       rest until tR (and |dE/dt| < dER/dt when set)
Galvanostatic Cycling w/ Potential Lim.    per Ns: cc at Is until EM / t1 / dQM; a cv hold at
                                           EM for tM until |I| < Im when tM > 0; a rest of tR;
                                           ``goto Ns'`` / ``nc cycles`` → a loop
Chronoamperometry / Chronocoulometry       cv at Ei (vs. Ref) for ti, until |Q| > dQM
Chronopotentiometry                        cc at Is for ts, until EM, |Q| > dQM
Potentio / Galvano EIS                     eis (single sine, log spacing, per decade)
Linear Sweep Voltammetry                   a rest of tR, then a sweep Ei → EL at dE/dt
Cyclic Voltammetry                         sweep Ei → E1 → E2, nc cycles + 1 times
Modulo Bat                                 Rest, CC, CV, PEIS, GEIS, VS (one vertex), Loop
Loop (between techniques)                  a loop over techniques ``goto Ne`` …, nt times + 1
=========================================  ===================================================

Every field we read either becomes part of a step or is checked to be its neutral value
(``pass``, 0, ``<None>``); anything else — a C/N current, a current relative to the previous
step, a dx limit, a Modulo Bat jump to another sequence, a technique we do not know — is a
:class:`ProtocolIOError` naming the technique, Ns and field. Nothing is silently dropped.

A Modulo Bat CC sequence that ends only on reaching a voltage (plus time / charge caps) and
is followed by a CV sequence at that voltage with the same caps is read as one ``cccv`` step:
that is how :mod:`.eclab_export` writes one (EC-Lab has no combined CC-CV sequence in Modulo
Bat). Each part of such a pair counts its time cap from its own start, as a cccv exported
from here does on EC-Lab.

The labels of CV and LSV rows follow eclabfiles' parameter lists (no real CV/LSV ``.mps`` was
at hand); the other techniques were checked against real files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from .draft import Draft, StepTable, amps, coulombs, hertz, number, seconds, volts
from .eclab_text import (
    Settings,
    Technique,
    factor,
    parse_duration,
    parse_number,
    parse_settings,
)
from .errors import ProtocolIOError

#: EC-Lab's defaults for an electrode surface area / characteristic mass nobody entered.
PLACEHOLDER_AREA_CM2 = 0.001
PLACEHOLDER_MASS_G = 0.001


@dataclass
class Item:
    """The steps one sequence (or technique) makes, and the loop it closes, if any."""

    steps: list[StepTable] = field(default_factory=list)
    goto: int | None = None  # index of the first item of the loop this one closes
    repeat: int = 0  # how many times it jumps back (the loop runs repeat + 1 times)
    label: str = ""


class _Where:
    def __init__(self, source: str, technique: Technique) -> None:
        self.source, self.technique = source, technique

    def __call__(self, ns: int | None, label: str) -> str:
        at = f" Ns {ns}," if ns is not None else ""
        return (
            f"{self.source}:{self.technique.line}: technique {self.technique.number} "
            f"({self.technique.name}),{at} field {label!r}"
        )


def import_mps(data: bytes | str, source: str) -> Draft:
    """The protocol an EC-Lab settings file describes (``source`` names it in messages)."""
    settings = parse_settings(data, source)
    items: list[Item] = []
    for technique in settings.techniques:
        reader = TECHNIQUES.get(technique.name)
        if reader is None and technique.name != "Loop":
            known = ", ".join(sorted([*TECHNIQUES, "Loop"]))
            raise ProtocolIOError(
                f"{source}:{technique.line}: technique {technique.number} "
                f"({technique.name}) cannot be imported; the techniques read are: {known}"
            )
        where = _Where(source, technique)
        if technique.name == "Loop":
            goto = int(_num(technique, "goto Ne", 0, where))
            times = int(_num(technique, "nt times", 0, where))
            # techniques are numbered from 1; goto Ne names one of them
            items.append(Item(goto=goto - 1 if times else None, repeat=times, label="Loop"))
            continue
        assert reader is not None
        inner = reader(technique, where)
        steps = nest(inner, where(None, "goto"), f"{_SHORT.get(technique.name, 'Ns')}")
        items.append(Item(steps=steps, label=technique.name))
    steps = nest(items, f"{source}: Loop technique", "techniques")
    name = PurePath(source).stem or "imported"
    draft = Draft(name=name, source=PurePath(source).name, steps=steps)
    draft.description = f"imported from EC-Lab settings {PurePath(source).name}"
    draft.safety = _safety(settings, source)
    draft.notes = [
        "Values are as the file gives them; EC-Lab's own numbering is kept in step names (Ns).",
    ]
    draft.cell_hints = cell_hints(settings, name, PurePath(source).name)
    return draft


def nest(items: list[Item], where: str, what: str, first: int = 0) -> list[StepTable]:
    """Items in order, each backward jump wrapped as a loop (nested loops nest; loops that
    overlap without nesting cannot be written as loops and are refused). Loops are named
    by their items' numbers, counted from ``first``."""
    spans = [
        (item.goto, k, item.repeat + 1)
        for k, item in enumerate(items)
        if item.goto is not None and item.repeat > 0
    ]
    for start, end, _ in spans:
        if start > end:
            raise ProtocolIOError(f"{where}: a jump forward (from {end} to {start}) is no loop")
    for a in spans:
        for b in spans:
            if a[0] < b[0] <= a[1] < b[1]:
                raise ProtocolIOError(
                    f"{where}: loops {a[0]}–{a[1]} and {b[0]}–{b[1]} overlap without nesting"
                )

    def build(lo: int, hi: int, inside: tuple[int, int] | None = None) -> list[StepTable]:
        out: list[StepTable] = []
        k = lo
        while k <= hi:
            # the widest loop starting at k that ends inside [k, hi] (not the one we are in)
            own = [s for s in spans if s[0] == k and s[1] <= hi and (s[0], s[1]) != inside]
            if own:
                start, end, count = max(own, key=lambda s: s[1])
                body = build_inner(start, end)
                out.append(
                    {
                        "type": "loop",
                        "name": f"{what} {start + first}-{end + first}",
                        "count": count,
                        "steps": body,
                    }
                )
                k = end + 1
            else:
                out.extend(items[k].steps)
                k += 1
        return out

    def build_inner(start: int, end: int) -> list[StepTable]:
        # the same span may hold a narrower loop starting at `start`
        inner = build(start, end, (start, end))
        if not inner:
            raise ProtocolIOError(f"{where}: the loop over {what} {start}-{end} has no steps")
        return inner

    return build(0, len(items) - 1)


# -- helpers ---------------------------------------------------------------------------------


def _value(t: Technique, label: str, ns: int, where: _Where) -> str:
    value = t.get(label, ns)
    if value is None:
        raise ProtocolIOError(f"{where(ns, label)}: missing")
    return value


def _num(t: Technique, label: str, ns: int, where: _Where) -> float:
    return parse_number(_value(t, label, ns, where), where(ns, label))


def _opt(t: Technique, label: str, ns: int, where: _Where) -> float | None:
    """A limit that may be ``pass`` (none); 0 also means none for EC-Lab's limits."""
    value = t.get(label, ns)
    if value is None or value.lower() in ("pass", ""):
        return None
    number_ = parse_number(value, where(ns, label))
    return None if number_ == 0 else number_


def _limit_V(t: Technique, label: str, ns: int, where: _Where) -> float | None:
    """A potential limit: ``pass`` is none, any number (0 V too) is a limit."""
    value = t.get(label, ns)
    if value is None or value.lower() in ("pass", ""):
        return None
    return parse_number(value, where(ns, label))


def _dur(t: Technique, labels: tuple[str, ...], ns: int, where: _Where) -> float:
    for label in labels:
        value = t.get(label, ns)
        if value is not None:
            return parse_duration(value, where(ns, label))
    raise ProtocolIOError(f"{where(ns, labels[0])}: missing")


def _with_unit(t: Technique, label: str, unit_label: str, ns: int, where: _Where) -> float:
    value = _num(t, label, ns, where)
    return value * factor(_value(t, unit_label, ns, where), where(ns, unit_label))


def _must_be(t: Technique, label: str, ns: int, where: _Where, allowed: tuple[str, ...]) -> None:
    value = t.get(label, ns)
    if value is None:
        return
    if value in allowed:
        return
    try:
        if parse_number(value, where(ns, label)) == 0 and "0" in allowed:
            return
    except ProtocolIOError:
        pass
    raise ProtocolIOError(
        f"{where(ns, label)}: {value!r} cannot be imported (allowed: {', '.join(allowed)})"
    )


def _record(every_s: float | None, dV: float | None = None) -> dict[str, str]:
    record: dict[str, str] = {}
    if every_s:
        record["every"] = seconds(every_s)
    if dV:
        record["voltage_change"] = f"{number(dV * 1e3)} mV"
    return record


def _step(kind: str, name: str, **fields: Any) -> StepTable:
    table: StepTable = {"type": kind, "name": name}
    for key, value in fields.items():
        if value is not None and value != {}:
            table[key] = value
    return table


def _get_row(t: Technique, label: str) -> list[str]:
    for name, values in t.rows:
        if name == label:
            return values
    return []


def _sequences(t: Technique) -> range:
    row = _get_row(t, "Ns")
    return range(len(row)) if row else range(1)


def _loop_fields(t: Technique, ns: int, where: _Where, item: Item) -> Item:
    goto = t.get("goto Ns'", ns)
    times = t.get("nc cycles", ns)
    if goto is not None and times is not None:
        n = int(parse_number(times, where(ns, "nc cycles")))
        if n > 0:
            item.goto = int(parse_number(goto, where(ns, "goto Ns'")))
            item.repeat = n
    return item


# -- techniques ------------------------------------------------------------------------------


def _ocv(t: Technique, where: _Where) -> list[Item]:
    ns = 0
    duration = _dur(t, ("tR (h:m:s)",), ns, where)
    until: dict[str, Any] = {"time": seconds(duration)}
    dvdt = _opt(t, "dER/dt (mV/h)", ns, where)
    if dvdt:
        until = {"dvdt_below": f"{number(dvdt)} mV/h", **until}
    record = _record(_opt(t, "dtR (s)", ns, where), _mv(_opt(t, "dER (mV)", ns, where)))
    return [Item([_step("rest", "OCV", until=until, record=record)])]


def _mv(value: float | None) -> float | None:
    return None if value is None else value * 1e-3


def _gcpl(t: Technique, where: _Where) -> list[Item]:
    items: list[Item] = []
    for ns in _sequences(t):
        _must_be(t, "Set I/C", ns, where, ("I",))
        _must_be(t, "vs.", ns, where, ("<None>",))
        _must_be(t, "dI/dt", ns, where, ("0",))
        _must_be(t, "dxM", ns, where, ("0",))
        current = _with_unit(t, "Is", "unit Is", ns, where)
        t1 = _dur(t, ("t1 (h:m:s)",), ns, where)
        tM = _dur(t, ("tM (h:m:s)",), ns, where)
        tR = _dur(t, ("tR (h:m:s)",), ns, where)
        steps: list[StepTable] = []
        name = f"GCPL Ns {ns}"
        if t1 > 0 and current != 0:
            direction = "charge" if current > 0 else "discharge"
            until: dict[str, Any] = {}
            em = _limit_V(t, "EM (V)", ns, where)
            if em is not None:
                until["voltage_above" if current > 0 else "voltage_below"] = volts(em)
            dqm = _opt(t, "dQM", ns, where)
            if dqm is not None:
                until["charge"] = coulombs(
                    dqm * factor(_value(t, "unit dQM", ns, where), where(ns, "unit dQM"))
                )
            until["time"] = seconds(t1)
            record = _record(_opt(t, "dt1 (s)", ns, where), _mv(_opt(t, "dE1 (mV)", ns, where)))
            steps.append(
                _step(
                    "cc", f"{name} {direction}", current=amps(current), until=until, record=record
                )
            )
            if tM > 0:
                if em is None:
                    raise ProtocolIOError(f"{where(ns, 'tM (h:m:s)')}: a hold needs EM")
                hold: dict[str, Any] = {}
                im = _opt(t, "Im", ns, where)
                if im is not None:
                    hold["current_below"] = amps(
                        abs(im) * factor(_value(t, "unit Im", ns, where), where(ns, "unit Im"))
                    )
                hold["time"] = seconds(tM)
                hold_record = _record(_opt(t, "dtq (s)", ns, where))
                steps.append(
                    _step("cv", f"{name} hold", voltage=volts(em), until=hold, record=hold_record)
                )
        elif t1 > 0:  # zero current for t1: the cell at rest under control
            steps.append(
                _step(
                    "rest",
                    f"{name} rest",
                    until={"time": seconds(t1)},
                    record=_record(_opt(t, "dt1 (s)", ns, where)),
                )
            )
        if tR > 0:
            el = t.get("EL (V)", ns)
            if el is not None and el.lower() != "pass":
                raise ProtocolIOError(
                    f"{where(ns, 'EL (V)')}: a rest limited by EL = {el} cannot be imported"
                )
            rest_until: dict[str, Any] = {}
            dvdt = _opt(t, "dER/dt (mV/h)", ns, where)
            if dvdt:
                rest_until["dvdt_below"] = f"{number(dvdt)} mV/h"
            rest_until["time"] = seconds(tR)
            record = _record(_opt(t, "dtR (s)", ns, where), _mv(_opt(t, "dER (mV)", ns, where)))
            steps.append(_step("rest", f"{name} rest", until=rest_until, record=record))
        items.append(_loop_fields(t, ns, where, Item(steps, label=name)))
    return items


def _ca(t: Technique, where: _Where) -> list[Item]:
    items: list[Item] = []
    for ns in _sequences(t):
        _must_be(t, "vs.", ns, where, ("Ref",))
        _must_be(t, "Imax", ns, where, ("pass",))
        _must_be(t, "Imin", ns, where, ("pass",))
        voltage = _num(t, "Ei (V)", ns, where)
        duration = _dur(t, ("ti (h:m:s)", "ts (h:m:s)"), ns, where)
        until: dict[str, Any] = {}
        dqm = _opt(t, "dQM", ns, where)
        if dqm is not None:
            until["charge"] = coulombs(dqm * factor(_value(t, "unit dQM", ns, where), "unit dQM"))
        until["time"] = seconds(duration)
        record: dict[str, str] = {}
        dt = _opt(t, "dt (s)", ns, where)
        if dt:
            record["every"] = seconds(dt)
        di = _opt(t, "dI", ns, where)
        if di:
            record["current_change"] = amps(di * factor(_value(t, "unit dI", ns, where), "unit dI"))
        step = _step("cv", f"CA Ns {ns}", voltage=volts(voltage), until=until, record=record)
        items.append(_loop_fields(t, ns, where, Item([step])))
    return items


def _cp(t: Technique, where: _Where) -> list[Item]:
    items: list[Item] = []
    for ns in _sequences(t):
        _must_be(t, "vs.", ns, where, ("<None>",))
        current = _with_unit(t, "Is", "unit Is", ns, where)
        duration = _dur(t, ("ts (h:m:s)",), ns, where)
        record = _record(_opt(t, "dts (s)", ns, where), _mv(_opt(t, "dEs (mV)", ns, where)))
        if current == 0:
            step = _step(
                "rest", f"CP Ns {ns} rest", until={"time": seconds(duration)}, record=record
            )
        else:
            until: dict[str, Any] = {}
            em = _limit_V(t, "EM (V)", ns, where)
            if em is not None:
                until["voltage_above" if current > 0 else "voltage_below"] = volts(em)
            dqm = _opt(t, "dQM", ns, where)
            if dqm is not None:
                until["charge"] = coulombs(dqm * factor(_value(t, "unit dQM", ns, where), "dQM"))
            until["time"] = seconds(duration)
            step = _step("cc", f"CP Ns {ns}", current=amps(current), until=until, record=record)
        items.append(_loop_fields(t, ns, where, Item([step])))
    return items


def _eis_common(t: Technique, ns: int, where: _Where) -> dict[str, Any]:
    for label in ("Multi Sine", "Mode"):
        _must_be(t, label, ns, where, ("0", "Single sine"))
    _must_be(t, "Log", ns, where, ("1",))
    _must_be(t, "spacing", ns, where, ("Logarithmic",))
    _must_be(t, "Points", ns, where, ("per decade",))
    _must_be(t, "Sel Nd", ns, where, ("1",))
    for label in ("nc cycles", "nr cycles"):
        _must_be(t, label, ns, where, ("0",))
    f_start = _with_unit(t, "fi", "unit fi", ns, where)
    f_stop = _with_unit(t, "ff", "unit ff", ns, where)
    return {
        "f_start": hertz(f_start),
        "f_stop": hertz(f_stop),
        "points_per_decade": int(_num(t, "Nd", ns, where)),
        "averages": int(_num(t, "Na", ns, where)),
    }


def _peis(t: Technique, where: _Where) -> list[Item]:
    items: list[Item] = []
    for ns in _sequences(t):
        fields = _eis_common(t, ns, where)
        if _dur(t, ("tE (h:m:s)",), ns, where) > 0:
            raise ProtocolIOError(f"{where(ns, 'tE (h:m:s)')}: a bias hold before the scan")
        bias = _num(t, "E (V)", ns, where)
        vs = _value(t, "vs.", ns, where)
        if vs == "Eoc" and bias == 0:
            bias_text = "ocv"
        elif vs == "Ref":
            bias_text = volts(bias)
        else:
            raise ProtocolIOError(f"{where(ns, 'vs.')}: a bias of {bias} V vs. {vs}")
        amplitude = _num(t, "Va (mV)", ns, where) * 1e-3
        step = _step(
            "eis",
            f"PEIS Ns {ns}",
            mode="potentiostatic",
            amplitude=volts(amplitude),
            bias=bias_text,
            **fields,
        )
        items.append(Item([step]))
    return items


def _geis(t: Technique, where: _Where) -> list[Item]:
    items: list[Item] = []
    for ns in _sequences(t):
        fields = _eis_common(t, ns, where)
        _must_be(t, "Ia/Va", ns, where, ("Ia",))
        if _with_unit(t, "Is", "unit Is", ns, where) != 0:
            raise ProtocolIOError(f"{where(ns, 'Is')}: a bias current (only 0 is read)")
        unit_label = "unit  Ia" if t.has("unit  Ia") else "unit Ia"
        amplitude = _with_unit(t, "Ia", unit_label, ns, where)
        step = _step(
            "eis", f"GEIS Ns {ns}", mode="galvanostatic", amplitude=amps(amplitude), **fields
        )
        items.append(Item([step]))
    return items


def _scan_rate(t: Technique, ns: int, where: _Where) -> str:
    rate = _num(t, "dE/dt", ns, where)
    unit = _value(t, "dE/dt unit", ns, where)
    return f"{number(rate * factor(unit, where(ns, 'dE/dt unit')) * 1e3)} mV/s"


def _versus(t: Technique, label: str, ns: int, where: _Where, allow_ocv: bool) -> str:
    value = _num(t, label, ns, where)
    vs = t.after(label, "vs.", ns) or "Ref"
    if vs == "Ref":
        return volts(value)
    if vs == "Eoc" and value == 0 and allow_ocv:
        return "ocv"
    raise ProtocolIOError(f"{where(ns, label)}: {value} V vs. {vs} (only vs. Ref is read)")


def _lsv(t: Technique, where: _Where) -> list[Item]:
    steps: list[StepTable] = []
    ns = 0
    rest = _dur(t, ("tR (h:m:s)",), ns, where)
    if rest > 0:
        steps.append(_step("rest", "LSV rest", until={"time": seconds(rest)}))
    steps.append(
        _step(
            "sweep",
            "LSV",
            scan_rate=_scan_rate(t, ns, where),
            **{"from": _versus(t, "Ei (V)", ns, where, True)},
            to=_versus(t, "EL (V)", ns, where, False),
        )
    )
    return [Item(steps)]


def _cv(t: Technique, where: _Where) -> list[Item]:
    ns = 0
    _must_be(t, "Reverse Scan", ns, where, ("0",))
    start = _versus(t, "Ei (V)", ns, where, True)
    vertices = [_versus(t, "E1 (V)", ns, where, False), _versus(t, "E2 (V)", ns, where, False)]
    cycles = int(_num(t, "nc cycles", ns, where)) + 1
    step = _step(
        "sweep",
        "CV",
        scan_rate=_scan_rate(t, ns, where),
        to=vertices,
        cycles=cycles,
        **{"from": start},
    )
    return [Item([step])]


# -- Modulo Bat ------------------------------------------------------------------------------


def _mb_value(t: Technique, ctrl: int, ns: int, where: _Where) -> tuple[float, str]:
    value = _num(t, f"ctrl{ctrl}_val", ns, where)
    unit = _value(t, f"ctrl{ctrl}_val_unit", ns, where)
    return value * factor(unit, where(ns, f"ctrl{ctrl}_val_unit")), unit


def _mb_limits(t: Technique, ns: int, where: _Where, sign: float) -> dict[str, Any]:
    until: dict[str, Any] = {}
    count = int(_num(t, "lim_nb", ns, where)) if t.has("lim_nb") else 0
    for i in range(1, count + 1):
        kind = _value(t, f"lim{i}_type", ns, where)
        comp = _value(t, f"lim{i}_comp", ns, where)
        action = t.get(f"lim{i}_action", ns) or "Next sequence"
        target = t.get(f"lim{i}_seq", ns)
        if action != "Next sequence" and not (
            action == "Goto sequence" and target is not None and target.strip() == str(ns + 1)
        ):
            raise ProtocolIOError(
                f"{where(ns, f'lim{i}_action')}: {action!r} (only 'Next sequence' is read)"
            )
        value = _num(t, f"lim{i}_value", ns, where)
        unit = _value(t, f"lim{i}_value_unit", ns, where)
        si = value * factor(unit, where(ns, f"lim{i}_value_unit"))
        if kind == "Time" and comp == ">":
            until["time"] = seconds(si)
        elif kind == "Ewe" and comp in (">", "<"):
            until["voltage_above" if comp == ">" else "voltage_below"] = volts(si)
        elif kind == "|I|" and comp == "<":
            until["current_below"] = amps(abs(si))
        elif kind == "|Q|" and comp == ">":
            until["charge"] = coulombs(abs(si))
        else:
            raise ProtocolIOError(
                f"{where(ns, f'lim{i}_type')}: a limit {kind} {comp} {value} {unit} "
                "(read: Time >, Ewe > or <, |I| <, |Q| >)"
            )
    order = ("voltage_above", "voltage_below", "current_below", "charge", "time")
    return {k: until[k] for k in order if k in until}


def _mb_record(t: Technique, ns: int, where: _Where) -> dict[str, str]:
    record: dict[str, str] = {}
    count = int(_num(t, "rec_nb", ns, where)) if t.has("rec_nb") else 0
    for i in range(1, count + 1):
        kind = _value(t, f"rec{i}_type", ns, where)
        value = _num(t, f"rec{i}_value", ns, where)
        si = value * factor(_value(t, f"rec{i}_value_unit", ns, where), where(ns, "rec unit"))
        key = {"Time": "every", "Ewe": "voltage_change", "I": "current_change"}.get(kind)
        if key is None:
            raise ProtocolIOError(f"{where(ns, f'rec{i}_type')}: recording on {kind!r}")
        record[key] = {"every": seconds, "voltage_change": volts, "current_change": amps}[key](si)
    return record


def _modulo_bat(t: Technique, where: _Where) -> list[Item]:
    items: list[Item] = []
    for ns in _sequences(t):
        kind = _value(t, "ctrl_type", ns, where)
        name = f"MB Ns {ns}"
        if kind == "Loop":
            items.append(
                Item(
                    goto=int(_num(t, "ctrl_seq", ns, where)),
                    repeat=int(_num(t, "ctrl_repeat", ns, where)),
                    label=name,
                )
            )
            continue
        if kind not in ("Rest", "CC", "CV", "PEIS", "GEIS", "VS"):
            raise ProtocolIOError(
                f"{where(ns, 'ctrl_type')}: {kind!r} cannot be imported "
                "(read: Rest, CC, CV, PEIS, GEIS, VS, Loop)"
            )
        _must_be(t, "Apply I/C", ns, where, ("I",))
        record = _mb_record(t, ns, where)
        step: StepTable
        if kind == "Rest":
            step = _step("rest", name, until=_mb_limits(t, ns, where, 0.0), record=record)
        elif kind == "CC":
            _must_be(t, "ctrl1_val_vs", ns, where, ("<None>", ""))
            current, _ = _mb_value(t, 1, ns, where)
            until = _mb_limits(t, ns, where, current)
            step = _step("cc", name, current=amps(current), until=until, record=record)
        elif kind == "CV":
            _must_be(t, "ctrl1_val_vs", ns, where, ("Ref",))
            voltage, _ = _mb_value(t, 1, ns, where)
            until = _mb_limits(t, ns, where, 0.0)
            step = _step("cv", name, voltage=volts(voltage), until=until, record=record)
        elif kind in ("PEIS", "GEIS"):
            amplitude, _ = _mb_value(t, 1, ns, where)
            f_start, _ = _mb_value(t, 2, ns, where)
            f_stop, _ = _mb_value(t, 3, ns, where)
            step = _step(
                "eis",
                name,
                mode="potentiostatic" if kind == "PEIS" else "galvanostatic",
                f_start=hertz(f_start),
                f_stop=hertz(f_stop),
                amplitude=volts(amplitude) if kind == "PEIS" else amps(amplitude),
                points_per_decade=int(_num(t, "ctrl_Nd", ns, where)),
                averages=int(_num(t, "ctrl_Na", ns, where)),
                record=record,
            )
            if _mb_limits(t, ns, where, 0.0):
                raise ProtocolIOError(f"{where(ns, 'lim_nb')}: limits on an impedance sequence")
        else:  # VS: one linear sweep
            rate, _ = _mb_value(t, 1, ns, where)
            start, _ = _mb_value(t, 2, ns, where)
            end, _ = _mb_value(t, 3, ns, where)
            start_vs = t.get("ctrl2_val_vs", ns) or "Ref"
            if start_vs == "Eoc" and start == 0:
                start_text = "ocv"
            elif start_vs == "Ref":
                start_text = volts(start)
            else:
                raise ProtocolIOError(f"{where(ns, 'ctrl2_val_vs')}: a start vs. {start_vs}")
            _must_be(t, "ctrl3_val_vs", ns, where, ("Ref",))
            step = _step(
                "sweep",
                name,
                scan_rate=f"{number(rate * 1e3)} mV/s",
                to=volts(end),
                record=record,
                **{"from": start_text},
            )
            if _mb_limits(t, ns, where, 0.0):
                raise ProtocolIOError(f"{where(ns, 'lim_nb')}: limits on a sweep sequence")
        items.append(Item([step], label=name))
    return _merge_cccv(items)


def _merge_cccv(items: list[Item]) -> list[Item]:
    """A CC sequence ending on the voltage a following CV sequence holds, with the same time
    and charge caps, is one cccv step (see the module docstring). Sequence numbers stay put:
    the CV's item keeps its place, empty, so loops still count sequences as the file does."""
    for k in range(len(items) - 1):
        first, second = items[k].steps, items[k + 1].steps
        if len(first) != 1 or len(second) != 1:
            continue
        cc, cv = first[0], second[0]
        if cc["type"] != "cc" or cv["type"] != "cv" or items[k + 1].goto is not None:
            continue
        current = cc["current"]
        switch_key = "voltage_below" if current.startswith("-") else "voltage_above"
        cc_until, cv_until = dict(cc.get("until", {})), dict(cv.get("until", {}))
        if cc_until.pop(switch_key, None) != cv["voltage"]:
            continue
        caps = {k: v for k, v in cv_until.items() if k in ("time", "charge")}
        if cc_until != caps or cc.get("record") != cv.get("record"):
            continue
        merged: StepTable = {
            "type": "cccv",
            "name": cc["name"],
            "current": current,
            "voltage": cv["voltage"],
            "until": cv_until,
        }
        if "record" in cc:
            merged["record"] = cc["record"]
        merged["_comment"] = f"{cc['name']} (CC) + {cv['name']} (CV) read as one cccv step"
        items[k].steps = [merged]
        items[k + 1].steps = []
    return items


_SHORT = {
    "Galvanostatic Cycling with Potential Limitation": "GCPL Ns",
    "Modulo Bat": "MB Ns",
    "Chronoamperometry / Chronocoulometry": "CA Ns",
    "Chronopotentiometry": "CP Ns",
}

TECHNIQUES: dict[str, Callable[[Technique, _Where], list[Item]]] = {
    "Open Circuit Voltage": _ocv,
    "Galvanostatic Cycling with Potential Limitation": _gcpl,
    "Chronoamperometry / Chronocoulometry": _ca,
    "Chronopotentiometry": _cp,
    "Potentio Electrochemical Impedance Spectroscopy": _peis,
    "Galvano Electrochemical Impedance Spectroscopy": _geis,
    "Linear Sweep Voltammetry": _lsv,
    "Cyclic Voltammetry": _cv,
    "Modulo Bat": _modulo_bat,
}


# -- header ----------------------------------------------------------------------------------


def _safety(settings: Settings, source: str) -> dict[str, Any]:
    lines = settings.header
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Safety Limits"))
    except StopIteration:
        return {}
    limits: dict[str, Any] = {}
    hold_ms = 0.0
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        text = line.strip()
        parts = text.replace("=", " = ").split()
        where = f"{source}: Safety Limits: {text!r}"
        if text.startswith("Ewe min =") or text.startswith("Ewe max ="):
            value = parse_number(parts[3], where) * factor(parts[4], where)
            limits["voltage_min" if "min" in text else "voltage_max"] = volts(value)
        elif text.startswith("|I| ="):
            limits["current_max"] = amps(parse_number(parts[2], where) * factor(parts[3], where))
        elif text.startswith("for t >"):
            hold_ms = parse_number(parts[3], where) * factor(parts[4], where) * 1e3
        elif text.startswith("Do not start on"):
            continue
        else:
            raise ProtocolIOError(f"{where}: a safety limit that cannot be imported")
    if hold_ms > 0:
        limits = {k: {"value": v, "for": f"{number(hold_ms)} ms"} for k, v in limits.items()}
    return limits


def cell_hints(settings: Settings, name: str, source: str) -> str:
    """A cell file stub from the header: what EC-Lab knew about the cell, and what it did not.

    EC-Lab writes 0.001 cm² and 0.001 g when nobody entered an area or a mass; those are
    kept (a cell file needs an area) but flagged, so a C-rate or a current density is never
    silently computed from a placeholder.
    """
    lines = [
        f"# Cell hints from the header of {source} (EC-Lab settings). Check every value:",
        "# these are what EC-Lab was told, and 0.001 cm² / 0.001 g are its defaults.",
        f"name = {_toml(name)}",
    ]
    material = settings.header_value("Electrode material") or ""
    lines.append(f"chemistry = {_toml(material)}")
    for key in ("Electrolyte", "Initial state", "Comments", "Reference electrode"):
        value = settings.header_value(key)
        if value:
            lines.append(f"# {key} : {value}")
    area = settings.header_value("Electrode surface area")
    area_cm2 = _header_quantity(area, {"cm²": 1.0, "cm2": 1.0, "mm²": 0.01, "m²": 1e4})
    if area_cm2 is not None and area_cm2 > 0:
        flag = "  # EC-Lab's default: measure it" if area_cm2 == PLACEHOLDER_AREA_CM2 else ""
        lines.append(f'area = "{number(area_cm2)} cm^2"{flag}')
    else:
        lines.append('area = "1 cm^2"  # not in the file: measure it')
    mass = settings.header_value("Characteristic mass")
    mass_g = _header_quantity(mass, {"g": 1.0, "mg": 1e-3, "µg": 1e-6, "kg": 1e3})
    if mass_g is not None and mass_g > 0:
        if mass_g == PLACEHOLDER_MASS_G:
            lines.append(f'# active_mass = "{number(mass_g * 1e3)} mg"  # EC-Lab\'s default')
        else:
            lines.append(f'active_mass = "{number(mass_g * 1e3)} mg"  # Characteristic mass')
    capacity = settings.header_value("Battery capacity")
    capacity_mAh = _header_quantity(capacity, {"A.h": 1e3, "mA.h": 1.0, "µA.h": 1e-3, "uA.h": 1e-3})
    if capacity_mAh:
        lines.append(f'nominal_capacity = "{number(capacity_mAh)} mAh"  # Battery capacity')
    else:
        lines.append(
            "# nominal_capacity: Battery capacity is not set in the file; give it (or "
            "specific_capacity) for C-rates"
        )
    cycle = settings.header_value("Cycle Definition")
    if cycle:
        lines.append(
            f"# Cycle Definition : {cycle} (EC-Lab's cycle count; here each loop iteration "
            "is a cycle)"
        )
    lines += ["", "[sim]", '# model = "ncm622-li"  # choose a simulator model for a dry run']
    return "\n".join(lines) + "\n"


def _header_quantity(text: str | None, units: dict[str, float]) -> float | None:
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[1] not in units:
        return None
    try:
        return parse_number(parts[0], "header") * units[parts[1]]
    except ProtocolIOError:
        return None


def _toml(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)
