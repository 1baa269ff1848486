"""The detail screen's tables: executed steps (current one marked), events, results."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable, Static

from cyclerctl.store import EventRecord, Result
from cyclerctl.store.records import StepRecord
from cyclerctl.tui.format import duration, milliamp_hours

CURRENT_MARK = "▶"
_SEVERITY_STYLES = {"info": "", "warning": "yellow", "alarm": "bold white on red"}


class StepTable(DataTable[str | Text]):
    """Executed steps; rows keyed by step ordinal, the running one marked ▶."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: dict[int, tuple[str, ...]] = {}

    def on_mount(self) -> None:
        for label in ("", "#", "step", "cyc", "start", "took", "end", "chg mAh", "dis mAh"):
            self.add_column(label, key=label or "mark")

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
