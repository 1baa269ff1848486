"""A Plan → a ``pybamm.Experiment``: the step strings PyBaMM parses, as Python source
(``--format pybamm``), and the Experiment itself when pybamm is installed.

PyBaMM's step grammar (its ``Experiment`` docs; aurora-unicycler's ``_formats/pybamm.py``
writes the same forms): ``Charge at 1 mA until 4.3 V``, ``Discharge at 1 mA for 54000
seconds or until 3 V``, ``Hold at 4.3 V until 0.01 mA``, ``Rest for 600 seconds``. A cccv
step is a CC string then a Hold string; loops are unrolled (each loop iteration of an
innermost loop is one cycle tuple). PyBaMM ends steps on voltage, current and time only:
a charge, dV/dt or short condition, EIS, sweeps and chamber steps are refused by name.
"""

from __future__ import annotations

from typing import Any

from cyclerctl.plan import EndCondition, Loop, Node, Plan, Step

from .errors import ProtocolIOError
from .flatten import without_ramps


def experiment_steps(plan: Plan) -> list[tuple[str, ...]]:
    """The experiment as PyBaMM cycles: one tuple of step strings per cycle."""
    cycles: list[tuple[str, ...]] = []
    loose: list[str] = []
    _walk(without_ramps(plan.body).nodes, cycles, loose)
    if loose:
        cycles.append(tuple(loose))
    return cycles


def _walk(nodes: tuple[Node, ...], cycles: list[tuple[str, ...]], loose: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Loop):
            if loose:
                cycles.append(tuple(loose))
                loose.clear()
            if not any(isinstance(n, Loop) for n in node.body):
                body: list[str] = []
                for step in node.body:
                    assert isinstance(step, Step)
                    body += step_strings(step)
                cycles.extend([tuple(body)] * node.count)
            else:
                for _ in range(node.count):
                    _walk(node.body, cycles, loose)
        else:
            loose.extend(step_strings(node))


def step_strings(step: Step) -> list[str]:
    for c in step.ends:
        if c.kind not in ("voltage_above", "voltage_below", "current_below", "time"):
            raise ProtocolIOError(
                f"step {step.name!r}: it ends on {c.kind}; a PyBaMM experiment cannot"
            )
    time = step.condition("time")
    if step.kind == "rest":
        if step.ends and (time is None or len(step.ends) > 1):
            raise ProtocolIOError(f"step {step.name!r}: PyBaMM rests end on time only")
        return [f"Rest for {_n(_v(time))} seconds"] if time else []
    if step.kind in ("cc", "cccv"):
        current = _v_float(step.current_A, step)
        verb = "Charge" if current > 0 else "Discharge"
        text = f"{verb} at {_n(abs(current) * 1e3)} mA"
        limits = []
        if time is not None:
            limits.append(f"for {_n(_v(time))} seconds")
        switch = step.voltage_V if step.kind == "cccv" else None
        for c in step.ends:
            if c.kind in ("voltage_above", "voltage_below") and step.kind == "cc":
                limits.append(f"until {_n(_v(c))} V")
        if switch is not None:
            limits.append(f"until {_n(_v_float(switch, step))} V")
        if step.kind == "cc" and step.condition("current_below") is not None:
            raise ProtocolIOError(f"step {step.name!r}: a CC step cannot end on current")
        out = [f"{text} {' or '.join(limits)}".strip()]
        if step.kind == "cccv":
            out.append(_hold(step, _v_float(step.voltage_V, step), time))
        return out
    if step.kind == "cv":
        return [_hold(step, _v_float(step.voltage_V, step), time)]
    raise ProtocolIOError(f"step {step.name!r}: a PyBaMM experiment has no {step.kind} step")


def _hold(step: Step, voltage: float, time: EndCondition | None) -> str:
    limits = []
    if time is not None:
        limits.append(f"for {_n(_v(time))} seconds")
    current = step.condition("current_below")
    if current is not None:
        limits.append(f"until {_n(_v(current) * 1e3)} mA")
    return f"Hold at {_n(voltage)} V {' or '.join(limits)}".strip()


def experiment_source(plan: Plan) -> str:
    """Python source that builds the Experiment (``experiment()``)."""
    cycles = experiment_steps(plan)
    period = plan.record.every_s or 10.0
    lines = [
        f'"""{plan.protocol_name} for {plan.cell.name}, as a PyBaMM experiment (cyclerctl)."""',
        "",
        "import pybamm",
        "",
        "CYCLES = [",
    ]
    k = 0
    while k < len(cycles):
        same = 1
        while k + same < len(cycles) and cycles[k + same] == cycles[k]:
            same += 1
        body = ", ".join(repr(s) for s in cycles[k])
        lines.append(f"    *[({body},)] * {same}," if same > 1 else f"    ({body},),")
        k += same
    lines += [
        "]",
        "",
        "",
        "def experiment() -> pybamm.Experiment:",
        f'    return pybamm.Experiment(CYCLES, period="{_n(period)} seconds")',
        "",
    ]
    return "\n".join(lines)


def build_experiment(plan: Plan) -> Any:
    """The ``pybamm.Experiment`` itself (needs the ``pybamm`` extra)."""
    try:
        import pybamm
    except ImportError:
        raise ProtocolIOError("pybamm is not installed: pip install 'cyclerctl[pybamm]'") from None
    period = plan.record.every_s or 10.0
    return pybamm.Experiment(experiment_steps(plan), period=f"{_n(period)} seconds")


def _v(c: EndCondition) -> float:
    assert isinstance(c.value, float | int)
    return float(c.value)


def _v_float(value: object, step: Step) -> float:
    if not isinstance(value, float | int):
        raise ProtocolIOError(f"step {step.name!r}: no bound value ({value!r})")
    return float(value)


def _n(value: float) -> str:
    """Plain decimals (PyBaMM's step parser reads no exponents)."""
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"
