"""Pilot tests at 80×24: overview, detail, history, launch, commands, read-only."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Button, DataTable, Input, Select, Static

from cyclerctl.store import Store
from cyclerctl.tui.app import CyclerApp
from cyclerctl.tui.screens.detail import DetailScreen
from cyclerctl.tui.screens.history import HistoryScreen
from cyclerctl.tui.screens.launch import LaunchScreen
from cyclerctl.tui.screens.overview import OverviewScreen
from cyclerctl.tui.widgets.channel_table import ChannelTable
from cyclerctl.tui.widgets.dialogs import ConfirmScreen, OperatorScreen
from cyclerctl.tui.widgets.plots import NyquistPlot, TracePlot
from cyclerctl.tui.widgets.run_tables import CURRENT_MARK, StepTable
from tests.tui.helpers import sync, wait_for

MakeApp = Callable[..., CyclerApp]
SIZE = (80, 24)


def table(app: CyclerApp) -> ChannelTable:
    return app.screen.query_one(ChannelTable)


@sync
async def test_overview_shows_every_channel_and_updates_in_place(
    make_app: MakeApp, lab_url: str
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        channels = table(app)
        assert str(channels.get_cell("sim:3", "state")) == "running"
        assert channels.get_cell("sim:3", "V") == "-0.0123"
        # a new point arrives: the cell changes, the row stays (same key, same position)
        with Store.open(lab_url) as store, store.engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE channel_latest SET \"V\" = -0.0456 WHERE channel = 'sim:3'"
            )
        await wait_for(pilot, lambda: channels.get_cell("sim:3", "V") == "-0.0456")
        assert channels.get_row_index("sim:3") == 2


@sync
async def test_filters_by_state_and_instrument(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("f")  # running
        assert table(app).row_count == 1
        await pilot.press("f", "f")  # idle
        assert table(app).row_count == 1
        await pilot.press("f", "f", "f")  # all again
        await pilot.press("i")  # instrument sim
        assert table(app).row_count == 4


@sync
async def test_detail_shows_plots_steps_and_marks_the_current_step(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("enter")  # sim:1, the finished li-cu-ce run
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail)
        screen = app.screen
        assert isinstance(screen, DetailScreen) and screen.detail is not None
        assert len(screen.detail.trace.t) <= 400 < screen.detail.trace.total_points
        assert screen.query_one("#plot-V", TracePlot).display
        steps = screen.query_one(StepTable)
        assert steps.row_count == 9  # SEI formation, conditioning pair, Qt, 2 × 2, final
        await pilot.press("escape")
        await pilot.press("down", "down", "enter")  # sim:3, running: step 1 is current
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail)
        steps = app.screen.query_one(StepTable)
        # the synthetic run has no step rows: nothing marked, but the screen still works
        assert all(steps.get_row_at(i)[0] in ("", CURRENT_MARK) for i in range(steps.row_count))


@sync
async def test_eis_run_shows_a_nyquist_plot(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("down", "enter")  # sim:2: eis-conductivity
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail)
        assert app.screen.query_one(NyquistPlot).display


@sync
async def test_history_lists_finished_runs_and_opens_one(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("h")
        assert isinstance(app.screen, HistoryScreen)
        history = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: history.row_count == 2)
        assert str(history.get_cell("2", "status")) == "completed"
        assert "ce_avg=0.98" in str(history.get_cell("2", "results"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail)
        assert isinstance(app.screen, DetailScreen) and app.screen.run_id == 2


async def fill_launch(pilot: object, app: CyclerApp, protocol: str, cell: str) -> LaunchScreen:
    screen = app.screen
    assert isinstance(screen, LaunchScreen)
    screen.query_one("#protocol", Select).value = protocol
    screen.query_one("#cell", Select).value = cell
    return screen


@sync
async def test_launch_queues_a_run_with_the_operator_and_overrides(
    make_app: MakeApp, lab_url: str
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("down", "down", "down", "l")  # sim:4 is idle
        screen = await fill_launch(pilot, app, "li-cu-ce", "li-qse-cu")
        launch = screen.query_one("#launch", Button)
        await wait_for(pilot, lambda: screen.query("#param-cycles") and not launch.disabled)
        assert "ETA" in str(screen.query_one("#plan", Static).content)
        # validated as you type, with the CLI's message
        cycles = screen.query_one("#param-cycles", Input)
        cycles.value = "0"
        await wait_for(pilot, lambda: "cycles" in str(screen.query_one("#errors", Static).content))
        assert launch.disabled
        assert str(screen.query_one("#errors", Static).content).startswith("--set")
        cycles.value = "3"
        await wait_for(pilot, lambda: not launch.disabled)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, OperatorScreen))
        app.screen.query_one(Input).value = "carla"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
    with Store.open(lab_url) as store:
        run = store.list_runs(limit=1)[0]
        assert (run.status, run.channel, run.operator) == ("queued", "sim:4", "carla")
        assert run.overrides == {"cycles": "3"}
        assert [c.kind for c in store.commands(run.id)] == ["submit"]


@sync
async def test_launch_with_an_entered_cell(make_app: MakeApp, lab_url: str) -> None:
    app = make_app(operator="dan")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("down", "down", "down", "l")
        screen = await fill_launch(pilot, app, "li-cu-ce", "\0enter")
        await pilot.pause()
        for key, value in (("name", "my Li|Cu"), ("chemistry", "Li|Cu"), ("diameter", "1 cm")):
            screen.query_one(f"#cell-{key}", Input).value = value
        launch = screen.query_one("#launch", Button)
        await wait_for(pilot, lambda: not launch.disabled)
        screen.query_one("#cell-diameter", Input).value = "1 kg"
        await wait_for(
            pilot, lambda: "diameter" in str(screen.query_one("#errors", Static).content)
        )
        screen.query_one("#cell-diameter", Input).value = "1 cm"
        await wait_for(pilot, lambda: not launch.disabled)
        await pilot.click("#launch")
        await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen))
    with Store.open(lab_url) as store:
        run = store.list_runs(limit=1)[0]
        assert (run.status, run.cell_name, run.operator) == ("queued", "my Li|Cu", "dan")


@sync
async def test_pause_and_stop_ask_first_and_record_the_operator(
    make_app: MakeApp, lab_url: str
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("down", "down", "p")  # sim:3, running
        assert isinstance(app.screen, ConfirmScreen)
        assert "sim:3" in app.screen.question and "Li|QSE|Cu" in app.screen.question
        await pilot.press("enter")  # the focused button is Cancel: nothing is sent
        await pilot.press("p", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, OperatorScreen))
        app.screen.query_one(Input).value = "eve"
        await pilot.press("enter")
        await pilot.press("s")
        await pilot.click("#confirm")  # asked once per session: no second name prompt
        with Store.open(lab_url) as store:
            await wait_for(pilot, lambda: len(store.commands(3)) == 2)
            kinds = [(c.kind, c.operator, c.host) for c in store.commands(3)]
    assert kinds == [("pause", "eve", "test-pc"), ("stop", "eve", "test-pc")]


@sync
async def test_read_only_refuses_launch_and_commands(make_app: MakeApp, lab_url: str) -> None:
    app = make_app(read_only=True, operator="x")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("down", "down", "down", "l")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("up", "s")
        assert isinstance(app.screen, OverviewScreen)
        assert "READ-ONLY" in str(app.screen.query_one("#title", Static).content)
    with Store.open(lab_url) as store:
        assert store.commands(3) == []


@sync
async def test_one_detail_screen_serves_every_run_without_leftovers(make_app: MakeApp) -> None:
    from cyclerctl.tui.widgets.run_tables import EventTable, PlanTable

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.press("enter")  # sim:1: li-cu-ce, 9 steps
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail)
        first = app.screen
        assert isinstance(first, DetailScreen) and first.detail is not None
        assert first.query_one(StepTable).row_count == 9
        await pilot.press("escape", "down", "enter")  # sim:2: the EIS run
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail)
        screen = app.screen
        assert screen is first  # the same screen, built once
        assert isinstance(screen, DetailScreen) and screen.detail is not None
        run = screen.detail.run
        assert run.channel == "sim:2" and f"run {run.id}" in str(
            screen.query_one("#head", Static).content
        )
        lab = app.lab
        assert screen.query_one(StepTable).row_count == len(lab.steps(run.id))
        assert screen.query_one(PlanTable).row_count == len(lab.plan(run.id))
        assert screen.query_one(EventTable).row_count == len(lab.store.events(run.id)[-100:])
        assert screen.query_one(NyquistPlot).display
        await pilot.press("escape", "down", "down", "enter")  # sim:4: never ran
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.query_one(StepTable).row_count == 0
        assert "no run yet" in str(app.screen.query_one("#head", Static).content)


@sync
async def test_the_key_bar_is_rebuilt_only_when_its_keys_change(make_app: MakeApp) -> None:
    from textual.widgets._footer import FooterKey

    from cyclerctl.tui.widgets.footer import KeyFooter

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 4)
        await pilot.pause()
        overview = app.screen
        keys = list(overview.query_one(KeyFooter).query(FooterKey))
        assert [k.description for k in keys][:2] == ["launch", "pause"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause()
        detail_keys = [k.description for k in app.screen.query_one(KeyFooter).query(FooterKey)]
        assert detail_keys[0] == "back"  # the detail screen's own keys
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is overview)
        await pilot.pause()
        assert list(overview.query_one(KeyFooter).query(FooterKey)) == keys  # the same widgets
        overview.query_one(KeyFooter).bindings_changed(overview)  # nothing changed: no-op
        await pilot.pause()
        assert list(overview.query_one(KeyFooter).query(FooterKey)) == keys
