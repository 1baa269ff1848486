"""The overview table's own rendering (value-keyed cache, numbers built directly) paints
exactly what DataTable paints for the same rows."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from cyclerctl.tui.data import ChannelRow
from cyclerctl.tui.widgets.channel_table import ChannelTable
from tests.tui.helpers import sync

SIZE = (100, 16)  # fewer lines than rows: some rows are off screen while they change


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ChannelTable(id="channels")


def lab_rows(frame: int) -> list[ChannelRow]:
    states = ("running", "paused", "done", "idle", "safety stop", "queued")
    rows = []
    for i in range(30):
        state = states[i % len(states)]
        rows.append(
            ChannelRow(
                channel=f"cyc{i // 8 + 1}:{i % 8 + 1}",
                state=state,
                run_id=None if state in ("idle", "queued") else i + 1,
                status={"safety stop": "safety_stop", "done": "completed"}.get(state, state),
                protocol="li-cu-ce" if i % 2 else "ncm622-cycling-long-name",
                cell="Li|QSE|Cu",
                step=1 + frame % 3,
                cycle=frame,
                V=3.7 + 1e-4 * frame * (i + 1),
                I=-1e-3 * (1 + frame) if i % 3 else None,
                capacity_Ah=1e-4 * frame * i,
                elapsed_s=3600.0 + 7 * frame + i,
                eta_s=1800.0 - frame,
                queued=1 if state == "queued" else 0,
                alarm="V>4.4 V" if state == "safety stop" else None,
            )
        )
    return rows


@sync
async def test_a_table_updated_in_place_paints_like_one_filled_once() -> None:
    updated = TableApp()
    async with updated.run_test(size=SIZE) as pilot:
        table = updated.query_one(ChannelTable)
        for frame in range(12):
            table.show_rows(lab_rows(frame))
            if frame % 4 == 3:
                await pilot.press("down")  # the cursor row is drawn in another style
            await pilot.pause()
        # the direct path really ran (else this test would compare DataTable with itself)
        assert table.cells_built_directly > 100
        cursor = table.cursor_row
        painted = updated.export_screenshot(title="t")
    fresh = TableApp()
    async with fresh.run_test(size=SIZE) as pilot:
        table = fresh.query_one(ChannelTable)
        table.show_rows(lab_rows(11))
        await pilot.pause()
        table.move_cursor(row=cursor)
        await pilot.pause()
        assert fresh.export_screenshot(title="t") == painted


@sync
async def test_a_changed_number_replaces_the_old_one_on_screen() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ChannelTable)
        rows = lab_rows(1)
        table.show_rows(rows)
        await pilot.pause()
        table.show_rows([replace(rows[0], V=3.1234), *rows[1:]])
        await pilot.pause()
        text = app.export_screenshot(title="t")
        assert "3.1234" in text and f"{rows[0].V:.4f}" not in text


@sync
async def test_a_filter_that_hides_most_rows_keeps_the_order_and_the_cursor() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(ChannelTable)
        rows = lab_rows(1)
        table.show_rows(rows)
        await pilot.pause()
        table.move_cursor(row=6)
        selected = table.selected_channel
        assert selected == rows[6].channel
        few = rows[::3]  # 20 of 30 go at once: the table is refilled, not cut row by row
        table.show_rows(few)
        await pilot.pause()
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == [
            r.channel for r in few
        ]
        assert table.selected_channel == selected
        table.show_rows(rows)
        await pilot.pause()
        assert table.row_count == len(rows) and table.selected_channel == selected
        assert table.get_row_index(rows[-1].channel) == len(rows) - 1


@sync
async def test_rows_appended_at_once_paint_and_move_like_rows_added_one_by_one() -> None:
    from cyclerctl.tui.widgets.channel_table import COLUMNS, cells_of

    rows = lab_rows(3)
    screens = []
    for bulk in (True, False):
        app = TableApp()
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(ChannelTable)
            if bulk:
                table.show_rows(rows)  # 30 rows into an empty table: the bulk refill
            else:  # DataTable's own path, row by row
                for row in rows:
                    cells = cells_of(row)
                    table.add_row(*(cells[key] for key, _ in COLUMNS), key=row.channel)
            await pilot.pause()
            assert table.row_count == len(rows)
            assert table.virtual_size.height == len(rows) + 1  # the header line
            await pilot.press(*["down"] * 20, "up")  # past the screen's end: it scrolls
            await pilot.pause()
            assert table.cursor_row == 19 and table.selected_channel == rows[19].channel
            assert table.scroll_y > 0
            screens.append(app.export_screenshot(title="t"))
    assert screens[0] == screens[1]
