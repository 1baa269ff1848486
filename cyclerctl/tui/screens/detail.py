"""One channel's run (or a finished run from history): plots, steps, events, results."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane

from cyclerctl.store import TERMINAL_STATUSES
from cyclerctl.tui.data import LabData, RunDetail, Trace
from cyclerctl.tui.format import duration
from cyclerctl.tui.messages import CommandRun
from cyclerctl.tui.screens.polling import PollingScreen
from cyclerctl.tui.widgets.footer import KeyFooter
from cyclerctl.tui.widgets.plots import NyquistPlot, TracePlot
from cyclerctl.tui.widgets.run_tables import EventTable, PlanTable, ResultsView, StepTable


class DetailScreen(PollingScreen):
    poll_interval = 1.0
    DEFAULT_CSS = """
    DetailScreen #head { height: 2; }
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen TabPane { height: 1fr; padding: 0; }
    DetailScreen TracePlot, DetailScreen NyquistPlot { height: 1fr; min-height: 6; }
    DetailScreen .table-title { height: 1; text-style: bold; }
    DetailScreen PlanTable { height: auto; max-height: 45%; }
    DetailScreen StepTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "back"),
        Binding("p", "command('pause')", "pause"),
        Binding("r", "command('resume')", "resume"),
        Binding("s", "command('stop')", "stop"),
        Binding("q", "app.quit", "quit"),
    ]

    def __init__(self, lab: LabData, run_id: int | None, channel: str) -> None:
        super().__init__()
        self.lab = lab
        self.run_id = run_id
        self.channel = channel
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"{self.channel}: no run yet", id="head")
        with TabbedContent(initial="plots"):
            with TabPane("Plots", id="plots"), Vertical():
                yield TracePlot("V", id="plot-V")
                yield TracePlot("I", id="plot-I")
                yield NyquistPlot(id="nyquist")
            with TabPane("Steps", id="steps"), Vertical():
                yield Static("plan", classes="table-title")
                yield PlanTable(id="plan-table")
                yield Static("executed", classes="table-title")
                yield StepTable(id="step-table")
            with TabPane("Events", id="events"):
                yield EventTable(id="event-table")
            with TabPane("Results", id="results"):
                yield ResultsView(id="results-view")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(NyquistPlot).display = False
        super().on_mount()

    def load(self, run_id: int | None, channel: str) -> None:
        """Show another run in this screen. The app keeps one detail screen and reuses it:
        building one (about 40 widgets and their CSS) held the UI thread ~0.3 s, and a key
        pressed meanwhile (escape right after enter) waited that long."""
        self.run_id = run_id
        self.channel = channel
        self.detail = None
        self._drawn = False
        if not self.is_mounted:
            return
        self.query_one("#head", Static).update(f"{channel}: reading…" if run_id else
                                               f"{channel}: no run yet")  # fmt: skip
        self.query_one(TabbedContent).active = "plots"
        for plot in self.query(TracePlot):
            plot.display = True
            plot.show_trace(Trace())
        self.query_one(NyquistPlot).display = False
        self.query_one(PlanTable).reset()
        self.query_one(StepTable).reset()
        self.query_one(EventTable).reset()
        self.query_one(ResultsView).show_results({})

    def fetch(self) -> Any:
        if self.run_id is None:
            return None
        if self.detail is not None and self.detail.run.status in TERMINAL_STATUSES:
            return self.detail  # a finished run does not change: read it once
        return self.lab.detail(self.run_id)

    def show(self, data: Any) -> None:
        if data is None or (data is self.detail and self._drawn):
            return
        detail: RunDetail = data
        if detail.run.id != self.run_id:  # a read for the run shown before this one
            return
        self.detail = detail
        self._drawn = True
        run = detail.run
        trace = detail.trace
        elapsed = trace.t[-1] if trace.t else None
        reason = f" ({run.end_reason})" if run.end_reason else ""
        status = f"[b]{run.status}[/b]{reason}"
        if detail.alarm is not None:  # a safety stop: the limit it broke, in alarm colours
            status = f"[b white on red] SAFETY STOP: {detail.alarm} [/] (see Events)"
        self.query_one("#head", Static).update(
            f"[b]{run.channel}[/b] run {run.id} {status}  {run.protocol_name}"
            f"  by {run.operator}\n{run.cell_name}  t={duration(elapsed)}"
            f"  ETA={duration(self._eta(detail, elapsed))}  {trace.total_points} pts"
        )
        eis = bool(detail.nyquist[0]) and len(trace.t) < 2
        self.query_one("#plot-V", TracePlot).display = not eis
        self.query_one("#plot-I", TracePlot).display = not eis
        self.query_one(NyquistPlot).display = bool(detail.nyquist[0])
        if not eis:
            self.query_one("#plot-V", TracePlot).show_trace(trace)
            self.query_one("#plot-I", TracePlot).show_trace(trace)
        if detail.nyquist[0]:
            self.query_one(NyquistPlot).show_points(*detail.nyquist)
        self.query_one(PlanTable).show_plan(detail.plan, detail.current_plan_index)
        self.query_one(StepTable).show_steps(detail.steps, detail.current_step)
        self.query_one(EventTable).show_events(detail.events)
        self.query_one(ResultsView).show_results(detail.results)

    _drawn = False

    def show_problem(self, problem: str | None) -> None:
        if problem is None:
            self._drawn = False  # the next read redraws the head
            return
        self.query_one("#head", Static).update(
            f"[b white on red] DATABASE: {escape(problem)} [/]\n"
            f"{self.channel}: the values below are the last ones read"
        )

    @staticmethod
    def _eta(detail: RunDetail, elapsed: float | None) -> float | None:
        estimate = detail.run.estimated_duration_s
        if detail.run.status in TERMINAL_STATUSES or estimate is None:
            return None
        return max(estimate - (elapsed or 0.0), 0.0)

    def action_command(self, kind: str) -> None:
        if self.detail is None:
            return
        run = self.detail.run
        self.post_message(CommandRun(run.id, kind, channel=run.channel, cell=run.cell_name,
                                     status=run.status))  # fmt: skip
