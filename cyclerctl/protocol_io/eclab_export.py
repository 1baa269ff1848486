"""A Plan → an EC-Lab settings file (``.mps``), one Modulo Bat technique.

Modulo Bat holds every step kind we run on a potentiostat as one sequence (``Ns``) each, as
aurora-unicycler's ``_formats/biologic.py`` writes it (rows, their order and the 20-character
columns checked against a real Modulo Bat file): Rest, CC, CV, PEIS, GEIS, VS (a linear
sweep) and Loop (``ctrl_seq`` = the first Ns of the body, ``ctrl_repeat`` = count − 1). A
``cccv`` step is two sequences, CC until the CV voltage and CV at it, each with the step's
time and charge caps (Modulo Bat has no combined CC-CV; :mod:`.eclab_import` reads such a
pair back as one cccv). Limits: ``Time >``, ``Ewe >``/``<``, ``|I| <`` as in the real file;
``|Q| >`` for a charge limit is our reading of EC-Lab's limit list, not yet seen in a file.

Header: safety limits (``Ewe min/max``, ``|I|``, ``for t >`` as EC-Lab lists them), the
cell's electrode surface area, characteristic mass and battery capacity.

Refused with a message naming the step: chamber steps (EC-Lab cannot set one), EIS at a
bias other than open circuit, sweeps through several vertices or cycles, end conditions
Modulo Bat cannot watch (dV/dt over a window, short detection), a temperature safety limit.
Loops over a variable (ramps) are unrolled (see :mod:`.flatten`).
"""

from __future__ import annotations

from cyclerctl.plan import ConditionKind, EndCondition, Loop, Node, Plan, Step

from .eclab_text import format_duration, row, scaled
from .errors import ProtocolIOError
from .flatten import without_ramps

CURRENT_UNITS = (("nA", 1e-9), ("µA", 1e-6), ("mA", 1e-3), ("A", 1.0))
CHARGE_UNITS = (("nA.h", 3.6e-6), ("µA.h", 3.6e-3), ("mA.h", 3.6), ("A.h", 3600.0))
VOLT_UNITS = (("µV", 1e-6), ("mV", 1e-3), ("V", 1.0))
FREQ_UNITS = (("µHz", 1e-6), ("mHz", 1e-3), ("Hz", 1.0), ("kHz", 1e3), ("MHz", 1e6))
RATE_UNITS = (("µV/s", 1e-6), ("mV/s", 1e-3), ("V/s", 1.0))
MAX_LIMITS = MAX_RECORDS = 3

ROWS = (
    "Ns", "ctrl_type", "Apply I/C", "current/potential",
    "ctrl1_val", "ctrl1_val_unit", "ctrl1_val_vs",
    "ctrl2_val", "ctrl2_val_unit", "ctrl2_val_vs",
    "ctrl3_val", "ctrl3_val_unit", "ctrl3_val_vs",
    "N", "charge/discharge", "charge/discharge_1", "Apply I/C_1", "N1",
    "ctrl4_val", "ctrl4_val_unit", "ctrl5_val", "ctrl5_val_unit",
    "ctrl_tM", "ctrl_seq", "ctrl_repeat", "ctrl_trigger", "ctrl_TO_t", "ctrl_TO_t_unit",
    "ctrl_Nd", "ctrl_Na", "ctrl_corr", "lim_nb",
)  # fmt: skip
TAIL = (
    "E range min (V)", "E range max (V)", "I Range", "I Range min", "I Range max",
    "I Range init", "auto rest", "Bandwidth",
)  # fmt: skip
LIMIT_FIELDS = ("type", "comp", "Q", "value", "value_unit", "action", "seq")
RECORD_FIELDS = ("type", "value", "value_unit")

Sequence = dict[str, str]


def export_mps(plan: Plan) -> str:
    return export_mps_with_notes(plan)[0]


def export_mps_with_notes(plan: Plan) -> tuple[str, list[str]]:
    flat = without_ramps(plan.body)
    sequences: list[Sequence] = []
    notes = list(flat.notes)
    _nodes(flat.nodes, sequences, notes)
    low, high = _e_range(plan)
    for ns, seq in enumerate(sequences):
        seq["Ns"] = str(ns)
        for i in range(1, int(seq.get("lim_nb", "0")) + 1):
            seq[f"lim{i}_seq"] = str(ns + 1)
        seq["E range min (V)"], seq["E range max (V)"] = f"{low:.3f}", f"{high:.3f}"
    limit_rows = max([2, *(int(s.get("lim_nb", "0")) for s in sequences)])
    record_rows = max([2, *(int(s.get("rec_nb", "0")) for s in sequences)])
    labels = [*ROWS]
    labels += [f"lim{i}_{f}" for i in range(1, limit_rows + 1) for f in LIMIT_FIELDS]
    labels += ["rec_nb"]
    labels += [f"rec{i}_{f}" for i in range(1, record_rows + 1) for f in RECORD_FIELDS]
    labels += TAIL
    body = [row(label, [_default(label, s) for s in sequences]) for label in labels]
    lines = [*_header(plan, low, high), "", "Technique : 1", "Modulo Bat", *body]
    return "\r\n".join(lines) + "\r\n", notes


def _default(label: str, seq: Sequence) -> str:
    if label in seq:
        return seq[label]
    return {
        "Apply I/C": "I",
        "current/potential": "current",
        "N": "0.00",
        "N1": "0.00",
        "charge/discharge": "Charge",
        "charge/discharge_1": "Charge",
        "Apply I/C_1": "I",
        "ctrl_tM": "0",
        "ctrl_seq": "0",
        "ctrl_repeat": "0",
        "ctrl_trigger": "Falling Edge",
        "ctrl_TO_t": "0.000",
        "ctrl_TO_t_unit": "d",
        "ctrl_Nd": "6",
        "ctrl_Na": "2",
        "ctrl_corr": "0",
        "lim_nb": "0",
        "rec_nb": "0",
        "I Range": "Auto",
        "I Range min": "Unset",
        "I Range max": "Unset",
        "I Range init": "Unset",
        "auto rest": "1",
        "Bandwidth": "5",
    }.get(label, "")


def _nodes(nodes: tuple[Node, ...], out: list[Sequence], notes: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Loop):
            first = len(out)
            _nodes(node.body, out, notes)
            out.append(
                {"ctrl_type": "Loop", "ctrl_seq": str(first), "ctrl_repeat": str(node.count - 1)}
            )
        else:
            out.extend(_step(node))


def _refuse(step: Step, what: str) -> ProtocolIOError:
    return ProtocolIOError(f"step {step.name!r}: {what}; an EC-Lab settings file cannot hold it")


def _step(step: Step) -> list[Sequence]:
    for c in step.ends:
        if c.kind in ("dvdt_below", "short"):
            raise _refuse(step, f"it ends on {c.kind} (Modulo Bat watches no such limit)")
    record = _record(step)
    if step.kind == "rest":
        return [{"ctrl_type": "Rest", **_limits(step, step.ends), **record}]
    if step.kind == "cc":
        return [{"ctrl_type": "CC", **_current(step), **_limits(step, step.ends), **record}]
    if step.kind == "cv":
        return [{"ctrl_type": "CV", **_voltage(step), **_limits(step, step.ends), **record}]
    if step.kind == "cccv":
        assert isinstance(step.current_A, float) and isinstance(step.voltage_V, float)
        switch: ConditionKind = "voltage_above" if step.current_A > 0 else "voltage_below"
        caps = tuple(c for c in step.ends if c.kind in ("time", "charge"))
        cv_ends = tuple(c for c in step.ends if c.kind != switch)
        cc_ends = (EndCondition(switch, step.voltage_V), *caps)
        return [
            {"ctrl_type": "CC", **_current(step), **_limits(step, cc_ends), **record},
            {"ctrl_type": "CV", **_voltage(step), **_limits(step, cv_ends), **record},
        ]
    if step.kind == "eis":
        eis = step.eis
        assert eis is not None
        if eis.bias_V is not None:
            raise _refuse(step, f"EIS at a bias of {eis.bias_V} V (Modulo Bat: at OCV only)")
        if step.ends:
            raise _refuse(step, "an EIS step with end conditions")
        potentio = eis.mode == "potentiostatic"
        amplitude = scaled(eis.amplitude, VOLT_UNITS if potentio else CURRENT_UNITS)
        f_start, f_stop = scaled(eis.f_start_Hz, FREQ_UNITS), scaled(eis.f_stop_Hz, FREQ_UNITS)
        return [
            {
                "ctrl_type": "PEIS" if potentio else "GEIS",
                "ctrl1_val": amplitude[0],
                "ctrl1_val_unit": amplitude[1],
                "ctrl2_val": f_start[0],
                "ctrl2_val_unit": f_start[1],
                "ctrl3_val": f_stop[0],
                "ctrl3_val_unit": f_stop[1],
                "ctrl_Nd": str(eis.points_per_decade),
                "ctrl_Na": str(eis.averages),
                **record,
            }
        ]
    if step.kind == "sweep":
        sweep = step.sweep
        assert sweep is not None
        if len(sweep.vertices_V) != 1 or sweep.cycles != 1:
            raise _refuse(step, "a sweep through several vertices or cycles (VS is one ramp)")
        if step.ends:
            raise _refuse(step, "a sweep with end conditions")
        rate = scaled(sweep.scan_rate_V_s, RATE_UNITS)
        start = (
            {"ctrl2_val": "0.000", "ctrl2_val_unit": "V", "ctrl2_val_vs": "Eoc"}
            if sweep.start_V is None
            else {"ctrl2_val": f"{sweep.start_V:.3f}", "ctrl2_val_unit": "V", "ctrl2_val_vs": "Ref"}
        )
        return [
            {
                "ctrl_type": "VS",
                "ctrl1_val": rate[0],
                "ctrl1_val_unit": rate[1],
                **start,
                "ctrl3_val": f"{sweep.vertices_V[0]:.3f}",
                "ctrl3_val_unit": "V",
                "ctrl3_val_vs": "Ref",
                **record,
            }
        ]
    raise _refuse(step, f"a {step.kind} step")


def _current(step: Step) -> Sequence:
    assert isinstance(step.current_A, float)
    value, unit = scaled(step.current_A, CURRENT_UNITS)
    return {"ctrl1_val": value, "ctrl1_val_unit": unit, "ctrl1_val_vs": "<None>"}


def _voltage(step: Step) -> Sequence:
    assert isinstance(step.voltage_V, float)
    return {
        "ctrl1_val": f"{step.voltage_V:.3f}",
        "ctrl1_val_unit": "V",
        "ctrl1_val_vs": "Ref",
    }


def _limits(step: Step, ends: tuple[EndCondition, ...]) -> Sequence:
    out: Sequence = {}
    n = 0
    for c in ends:
        assert isinstance(c.value, float)
        if c.kind == "time":
            kind, comp, (value, unit) = "Time", ">", (f"{c.value:.3f}", "s")
        elif c.kind in ("voltage_above", "voltage_below"):
            kind, comp = "Ewe", ">" if c.kind == "voltage_above" else "<"
            value, unit = f"{c.value:.3f}", "V"
        elif c.kind == "current_below":
            kind, comp, (value, unit) = "|I|", "<", scaled(c.value, CURRENT_UNITS)
        elif c.kind == "charge":
            kind, comp, (value, unit) = "|Q|", ">", scaled(c.value, CHARGE_UNITS)
        else:
            raise _refuse(step, f"it ends on {c.kind}")
        n += 1
        if n > MAX_LIMITS:
            raise _refuse(step, f"more than {MAX_LIMITS} limits in one sequence")
        out.update(
            {
                f"lim{n}_type": kind,
                f"lim{n}_comp": comp,
                f"lim{n}_value": value,
                f"lim{n}_value_unit": unit,
                f"lim{n}_action": "Next sequence",
            }
        )
    out["lim_nb"] = str(n)
    return out


def _record(step: Step) -> Sequence:
    out: Sequence = {}
    n = 0
    r = step.record
    for kind, value in (("Time", r.every_s), ("Ewe", r.delta_V), ("I", r.delta_I)):
        if value is None:
            continue
        n += 1
        if kind == "Time":
            text, unit = f"{value:.3f}", "s"
        elif kind == "Ewe":
            text, unit = scaled(value, VOLT_UNITS)
        else:
            text, unit = scaled(value, CURRENT_UNITS)
        out.update({f"rec{n}_type": kind, f"rec{n}_value": text, f"rec{n}_value_unit": unit})
    out["rec_nb"] = str(n)
    return out


def _e_range(plan: Plan) -> tuple[float, float]:
    """The potentiostat's Ewe range: the safety window when given, else ±10 V."""
    low = next((s.value for s in plan.safety if s.quantity == "voltage_min"), None)
    high = next((s.value for s in plan.safety if s.quantity == "voltage_max"), None)
    return (-10.0 if low is None else min(low, 0.0), 10.0 if high is None else max(high, 5.0))


def _header(plan: Plan, low: float, high: float) -> list[str]:
    safety = ["Safety Limits :"]
    holds = {s.hold_s for s in plan.safety}
    for s in plan.safety:
        if s.quantity == "voltage_min":
            safety.append(f"\tEwe min = {s.value:.5f} V")
        elif s.quantity == "voltage_max":
            safety.append(f"\tEwe max = {s.value:.5f} V")
        elif s.quantity == "current_max":
            safety.append(f"\t|I| = {s.value * 1e3:.5f} mA")
        else:
            raise ProtocolIOError(
                f"safety {s.quantity}: an EC-Lab settings file has no such safety limit"
            )
    if len(holds) > 1:
        raise ProtocolIOError("safety: EC-Lab holds every limit for one time; these differ")
    if holds and max(holds) > 0:
        safety.append(f"\tfor t > {max(holds) * 1e3:.1f} ms")
    safety.append("\tDo not start on E overload")
    cell = plan.cell
    capacity = cell.nominal_capacity_Ah
    lines = [
        "EC-LAB SETTING FILE",
        "",
        "Number of linked techniques : 1",
        "",
        f"Filename : {plan.protocol_name}.mps",
        "",
        f"Ewe ctrl range : min = {low:.2f} V, max = {high:.2f} V",
        *safety,
        f"Electrode material : {cell.chemistry}",
        "Initial state : ",
        "Electrolyte : ",
        f"Comments : {plan.protocol_name} (cyclerctl) for cell {cell.name}",
        f"Battery capacity : {(capacity or 0.0) * 1e3:.3f} mA.h",
        f"Electrode surface area : {cell.area_m2 * 1e4:.3f} cm²",
    ]
    if cell.active_mass_kg:
        lines.append(f"Characteristic mass : {cell.active_mass_kg * 1e6:.3f} mg")
    lines.append("Cycle Definition : Charge/Discharge alternance")
    return lines


__all__ = ["export_mps", "export_mps_with_notes", "format_duration"]
