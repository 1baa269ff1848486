"""Launch a run on an idle channel: protocol, cell, parameters, the compiled plan, confirm.

Every change recompiles in a worker thread; errors are the CLI's own
``PATH:LINE: field: message`` lines. Launch queues the run (Store.submit_run); the daemon
that drives the channel starts it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

from cyclerctl.plan import Plan
from cyclerctl.protocol import (
    LibraryEntry,
    ProtocolError,
    list_cells,
    list_protocols,
    render_plan_table,
)
from cyclerctl.tui.data import LabData
from cyclerctl.tui.format import duration
from cyclerctl.tui.launch_form import (
    CELL_FIELDS,
    Parameter,
    compile_launch,
    overrides_of,
    parameters_of,
)
from cyclerctl.tui.messages import WithOperator
from cyclerctl.tui.widgets.footer import KeyFooter

#: the cell Select's value for "I'll type the cell in"
ENTER_CELL = "\0enter"


class LaunchScreen(Screen[int | None]):
    """Dismissed with the queued run's id, or None when cancelled."""

    DEFAULT_CSS = """
    LaunchScreen Label.field { width: 20; }
    LaunchScreen Horizontal { height: auto; }
    LaunchScreen Input { width: 1fr; height: 1; border: none; padding: 0 1; }
    LaunchScreen Input:focus { background: $boost; text-style: bold; }
    LaunchScreen #errors { color: $error; }
    LaunchScreen #custom-cell { height: auto; display: none; }
    LaunchScreen #parameters { height: auto; }
    LaunchScreen #description { color: $text-muted; }
    LaunchScreen #buttons { dock: bottom; height: 3; margin-bottom: 1; }
    LaunchScreen #buttons Button { margin-right: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+l", "launch", "launch"),
    ]

    def __init__(
        self, channel: str, lab: LabData, *, read_only: bool, with_operator: WithOperator
    ) -> None:
        super().__init__()
        self.channel = channel
        self.lab = lab
        self.read_only = read_only
        self.with_operator = with_operator
        self.protocols: dict[str, LibraryEntry] = {e.name: e for e in list_protocols()}
        self.cells: dict[str, LibraryEntry] = {e.name: e for e in list_cells()}
        self.parameters: list[Parameter] = []
        self.plan: Plan | None = None
        self.overrides: dict[str, str] = {}
        self._generation = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(f"[b]Launch on {self.channel}[/b]")
            yield Select(
                [(f"{name}", name) for name in self.protocols],
                prompt="protocol",
                id="protocol",
            )
            yield Static("", id="description")
            yield Select(
                [
                    *((f"{name}: {e.description}", name) for name, e in self.cells.items()),
                    ("enter a cell…", ENTER_CELL),
                ],
                prompt="cell",
                id="cell",
            )
            with Vertical(id="custom-cell"):
                for key, hint in CELL_FIELDS:
                    with Horizontal():
                        yield Label(key, classes="field")
                        yield Input(placeholder=hint, id=f"cell-{key}")
            yield Vertical(id="parameters")
            yield Static("", id="errors")
            yield Static("", id="plan")
        with Horizontal(id="buttons"):  # always in view, however long the form
            yield Button("Launch", variant="success", id="launch", disabled=True)
            yield Button("Cancel", id="cancel")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#protocol", Select).focus()

    # -- the form ---------------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "protocol":
            self._show_parameters()
        elif event.select.id == "cell":
            self.query_one("#custom-cell").display = event.value == ENTER_CELL
        self.recompile()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith(("param-", "cell-")):
            self.recompile()

    def _show_parameters(self) -> None:
        entry = self.selected_protocol()
        self.query_one("#description", Static).update(entry.description if entry else "")
        box = self.query_one("#parameters", Vertical)
        box.remove_children()
        self.parameters = parameters_of(entry) if entry else []
        rows = []
        for p in self.parameters:
            value = Input(value=p.default, id=f"param-{p.name}", tooltip=p.description)
            rows.append(Horizontal(Label(p.name, classes="field"), value))
        box.mount_all(rows)

    def selected_protocol(self) -> LibraryEntry | None:
        value = self.query_one("#protocol", Select).value
        return self.protocols.get(value) if isinstance(value, str) else None

    def form_values(self) -> tuple[str | bool | None, dict[str, str], dict[str, str]]:
        """(library cell, or None for the entered one, or False: none chosen), cell fields,
        parameter values."""
        choice = self.query_one("#cell", Select).value
        cell: str | bool | None = False
        if choice == ENTER_CELL:
            cell = None
        elif isinstance(choice, str):
            cell = choice
        entered = {key: self.query_one(f"#cell-{key}", Input).value for key, _ in CELL_FIELDS}
        params = {}
        for p in self.parameters:
            found = self.query(f"#param-{p.name}")
            if found:
                value = found.first(Input).value
                params[p.name] = value
        return cell, entered, params

    def recompile(self) -> None:
        self._generation += 1
        self.plan = None
        self.query_one("#launch", Button).disabled = True
        entry = self.selected_protocol()
        cell, entered, params = self.form_values()
        if entry is None or cell is False:
            self.query_one("#errors", Static).update("pick a protocol and a cell")
            return
        overrides = overrides_of(self.parameters, params)
        self._compile(self._generation, entry, cell if isinstance(cell, str) else None,
                      entered, overrides)  # fmt: skip

    @work(thread=True, group="compile")
    def _compile(
        self,
        generation: int,
        entry: LibraryEntry,
        cell: str | None,
        entered: dict[str, str],
        overrides: dict[str, str],
    ) -> None:
        try:
            plan: Plan | None = compile_launch(entry, cell, entered, overrides)
            error = ""
        except ProtocolError as exc:
            plan, error = None, str(exc)
        self.app.call_from_thread(self._compiled, generation, plan, error, overrides)

    def _compiled(self, generation: int, plan: Plan | None, error: str, overrides: dict[str, str]
                  ) -> None:  # fmt: skip
        if generation != self._generation:
            return  # the form changed meanwhile: a newer compile is on its way
        self.plan = plan
        self.overrides = overrides
        self.query_one("#errors", Static).update(error)
        launch = self.query_one("#launch", Button)
        launch.disabled = plan is None or self.read_only
        if plan is None:
            self.query_one("#plan", Static).update("")
            return
        self.query_one("#plan", Static).update(
            f"ETA {duration(plan.estimated_duration_s)}\n{render_plan_table(plan)}"
        )

    # -- actions ----------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        elif event.button.id == "cancel":
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_launch(self) -> None:
        plan = self.plan
        if plan is None or self.read_only:
            return
        overrides = dict(self.overrides)
        self.with_operator(lambda operator: self._submit(plan, overrides, operator))

    @work(thread=True, group="submit")
    def _submit(self, plan: Plan, overrides: dict[str, str], operator: str) -> None:
        try:
            run_id = self.lab.submit(
                plan, channel=self.channel, operator=operator, overrides=overrides
            )
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"not queued: {exc}", severity="error")
            return
        self.app.call_from_thread(self._submitted, run_id, plan)

    def _submitted(self, run_id: int, plan: Plan) -> None:
        self.notify(f"run {run_id} queued on {self.channel}: {plan.protocol_name}")
        self.dismiss(run_id)
