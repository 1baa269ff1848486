"""The detail screen's tables: the plan's steps and the executed ones (current marked),
events, results."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static

from cyclerctl.store import EventRecord, Result
from cyclerctl.store.records import StepRecord
from cyclerctl.tui.format import duration, milliamp_hours, milliamps, number

CURRENT_MARK = "▶"
_SEVERITY_STYLES = {"info": "", "warning": "yellow", "alarm": "bold white on red"}


#: how an end condition of each kind is written: (short name, unit scale, unit)
_END_FORMS: dict[str, tuple[str, float, str]] = {
    "voltage_above": ("V>", 1.0, "V"),
    "voltage_below": ("V<", 1.0, "V"),
    "current_below": ("|I|<", 1e3, "mA"),
    "charge": ("|Q|≥", 1e3 / 3600.0, "mAh"),  # stored in C
    "dvdt_below": ("dV/dt<", 1.0, "V/s"),
    "short": ("short<", 1.0, "×V"),
}


def _end_text(end: dict[str, Any]) -> str:
    kind = str(end.get("kind", "?"))
    value = end.get("value")
    if not isinstance(value, int | float):
        return f"{kind} {value}"
    if kind == "time":
        return f"t≥{duration(float(value))}"
    name, scale, unit = _END_FORMS.get(kind, (kind, 1.0, ""))
    return f"{name}{number(float(value), scale)}{unit}"


def setpoint_text(step: dict[str, Any]) -> str:
    """What a plan step drives: ``0.5655 mA``, ``4.2 V``, ``EIS 1e+05-0.1 Hz``, ``-``."""
    parts = []
    current = step.get("current_A")
    voltage = step.get("voltage_V")
    if isinstance(current, int | float):
        parts.append(f"{milliamps(float(current))} mA")
    if isinstance(voltage, int | float):
        parts.append(f"{number(float(voltage))} V")
    eis = step.get("eis")
    if isinstance(eis, dict):
        parts.append(f"EIS {number(eis.get('f_start_Hz'))}-{number(eis.get('f_stop_Hz'))} Hz")
    if not parts and step.get("c_rate") is not None:
        parts.append(f"{step['c_rate']}C")
    return " ".join(parts) or "-"


def ends_text(step: dict[str, Any]) -> str:
    """The step's end conditions, short (``V>1V, |Q|≥5.655mAh``); the time limit and the
    short detector, which nearly every step has, last."""
    ends = [e for e in step.get("ends") or () if isinstance(e, dict)]
    ends.sort(key=lambda e: e.get("kind") in ("time", "short"))
    return ", ".join(_end_text(e) for e in ends) or "-"


class PlanTable(DataTable[str | Text]):
    """The compiled plan's steps, keyed by Step.index, the one running now marked ▶."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: dict[int, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for label in ("", "#", "step", "kind", "setpoint", "ends"):
            self.add_column(label, key=label or "mark")

    def reset(self) -> None:
        """Empty, for another run."""
        self.clear()
        self._shown = {}

    def show_plan(self, plan: list[dict[str, Any]], current: int | None) -> None:
        wanted: dict[int, tuple[str, ...]] = {}
        for position, step in enumerate(plan):
            index = step.get("index")
            index = index if isinstance(index, int) else position
            wanted[index] = (
                CURRENT_MARK if index == current else "",
                str(index),
                str(step.get("name", "")),
                str(step.get("kind", "")),
                setpoint_text(step),
                ends_text(step),
            )
        for index in [k for k in self._shown if k not in wanted]:
            self.remove_row(str(index))
            del self._shown[index]
        for index, cells in wanted.items():
            before = self._shown.get(index)
            if before is None:
                self.add_row(*cells, key=str(index))
            elif before[0] != cells[0]:  # only the mark moves: a plan never changes
                self.update_cell(str(index), "mark", cells[0])
            self._shown[index] = cells
        if current is not None and str(current) in self.rows and not self.has_focus:
            self.move_cursor(row=self.get_row_index(str(current)))

    @property
    def marked(self) -> int | None:
        """The Step.index marked as running, if any."""
        return next((i for i, cells in self._shown.items() if cells[0] == CURRENT_MARK), None)


class StepTable(DataTable[str | Text]):
    """Executed steps; rows keyed by step ordinal, the running one marked ▶."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: dict[int, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for label in ("", "#", "step", "cyc", "start", "took", "end", "chg mAh", "dis mAh"):
            self.add_column(label, key=label or "mark")

    def reset(self) -> None:
        """Empty, for another run."""
        self.clear()
        self._shown = {}

    def show_steps(self, steps: list[StepRecord], current: int | None) -> None:
        wanted: dict[int, tuple[str, ...]] = {}
        for s in steps:
            took = None if s.t_end is None else s.t_end - s.t_start
            wanted[s.step] = (
                CURRENT_MARK if s.step == current else "",
                str(s.step),
                s.name,
                str(s.cycle),
                duration(s.t_start),
                duration(took),
                s.end_reason or ("running" if s.step == current else "-"),
                milliamp_hours(s.charge_Ah),
                milliamp_hours(s.discharge_Ah),
            )
        for step in [k for k in self._shown if k not in wanted]:
            self.remove_row(str(step))
            del self._shown[step]
        for step, cells in wanted.items():
            before = self._shown.get(step)
            if before is None:
                self.add_row(*cells, key=str(step))
            elif before != cells:
                for column, (old, new) in zip(self.columns, zip(before, cells, strict=True),
                                              strict=True):  # fmt: skip
                    if old != new:
                        self.update_cell(str(step), column, new)
            self._shown[step] = cells
        if current is not None and str(current) in self.rows and not self.has_focus:
            self.move_cursor(row=self.get_row_index(str(current)))


class EventTable(DataTable[str | Text]):
    """The run's event log: events are only ever appended, so only new ones are added."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._ids: set[str] = set()

    def on_mount(self) -> None:
        for label in ("t", "severity", "kind", "message"):
            self.add_column(label, key=label)

    def reset(self) -> None:
        """Empty, for another run."""
        self.clear()
        self._ids = set()

    def show_events(self, events: list[EventRecord]) -> None:
        for i, event in enumerate(events):
            key = str(event.id if event.id is not None else f"n{i}")
            if key in self._ids:
                continue
            self._ids.add(key)
            style = _SEVERITY_STYLES.get(event.severity, "")
            self.add_row(
                duration(event.t),
                Text(event.severity, style=style),
                event.kind,
                event.message,
                key=key,
            )


def format_results(results: dict[str, Result]) -> str:
    if not results:
        return "no results yet (computed when the run ends)"
    lines = []
    for name, result in sorted(results.items()):
        unit = f" {result.unit}" if result.unit not in (None, "", "1") else ""
        if result.value is not None:
            lines.append(f"{name:<28} {result.value:.6g}{unit}")
        else:
            size = len(result.data) if isinstance(result.data, list | dict) else 0
            lines.append(f"{name:<28} (table, {size} rows)")
    return "\n".join(lines)


class ResultsView(Static):
    def show_results(self, results: dict[str, Result]) -> None:
        self.update(format_results(results))
