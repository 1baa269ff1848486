"""The data commands from the command line: export, report, import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cyclerctl.cli import main

SHARED_ECLAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "eclab"


def test_export_report_of_a_run(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{in_tmp / 'runs.db'}"
    assert main(["run", "li-cu-nucleation", "--cell", "li-qse-cu", "--db", url, "--json"]) == 0
    run_id = str(json.loads(capsys.readouterr().out)["run"]["id"])
    for fmt in ("csv", "mpt", "parquet"):
        out = in_tmp / f"run.{fmt}"
        assert main(["export", run_id, "--format", fmt, "-o", str(out), "--db", url]) == 0
        assert out.is_file() and out.stat().st_size > 0
    header = (in_tmp / "run.csv").read_text().splitlines()[0].replace('"', "")
    assert header.startswith("Test Time / s,")
    assert main(["report", run_id, "-o", str(in_tmp / "report"), "--db", url]) == 0
    assert (in_tmp / "report" / "index.html").is_file()
    assert list((in_tmp / "report").glob("*.png"))
    assert main(["export", "99", "--format", "csv", "-o", "x.csv", "--db", url]) == 2


@pytest.mark.skipif(not SHARED_ECLAB.is_dir(), reason="../shared/data/eclab is not beside the repo")
def test_import_an_eclab_file_then_analyze(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{in_tmp / 'runs.db'}"
    source = SHARED_ECLAB / "peis.issue_149.mpr"
    assert main(["import", str(source), "--cell", "ss-qse-ss", "--db", url]) == 0
    capsys.readouterr()
    assert main(["show", "1", "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["run"]["protocol_name"].startswith("import:")
    assert main(["import", str(in_tmp / "missing.mpr"), "--cell", "ss-qse-ss", "--db", url]) == 2
