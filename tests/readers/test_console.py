"""``cyclerctl import``'s console side: exit codes, JSON lines, the summary table."""

from __future__ import annotations

import io
import json
from pathlib import Path

from cyclerctl.readers.console import EXIT_BAD_ARGS, EXIT_FAILED, EXIT_OK, run_import
from cyclerctl.store import Store
from tests.readers.conftest import shared


def test_exit_codes_json_lines_and_summary(store: Store, tmp_path: Path) -> None:
    folder = shared("neware")
    good = folder / "TESTCELL0001-Test_Data_Collection_Ndc17.ndax"
    bad = folder / "empty.ndax"
    out, err = io.StringIO(), io.StringIO()
    assert run_import(store, [good, bad], as_json=True, out=out, err=err) == EXIT_FAILED
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(Path(x["path"]).name, x["status"]) for x in lines] == [
        (good.name, "imported"),
        (bad.name, "failed"),
    ]
    assert lines[0]["records"] == 80 and lines[1]["reason"] == "the file holds no records"

    out, err = io.StringIO(), io.StringIO()
    assert run_import(store, [good], out=out, err=err) == EXIT_OK
    assert "already there" in out.getvalue()
    assert f"{good.name}: already (already imported as run" in err.getvalue()

    runs = store.count("runs")
    err = io.StringIO()
    assert run_import(store, [tmp_path / "nope"], out=io.StringIO(), err=err) == EXIT_BAD_ARGS
    assert "no such file or folder" in err.getvalue()
    assert run_import(store, [], out=io.StringIO(), err=io.StringIO()) == EXIT_BAD_ARGS
    assert store.count("runs") == runs
