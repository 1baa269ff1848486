"""`cyclerctl import PATH...` and `runs --source import` on the shared real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cyclerctl.cli import main

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not (DATA / "maccor").is_dir(), reason="../shared/data/maccor is not beside the repo"
)


def test_a_folder_imports_once_and_its_runs_name_their_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert main(["import", str(DATA / "maccor"), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "2 imported, 0 already there, 0 failed" in out
    assert main(["import", str(DATA / "maccor"), "--db", url, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["status"] for line in lines} == {"already"}
    assert main(["runs", "--source", "import", "--db", url, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert sorted(r["file"]["file_name"] for r in runs) == [
        "xTESLADIAG_000019_CH70.070", "xTESLADIAG_000038.078",
    ]  # fmt: skip
    assert all(r["file"]["vendor"] == "maccor" and len(r["file"]["sha256"]) == 64 for r in runs)


def test_a_bad_file_among_good_ones_exits_1_and_leaves_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    bad = tmp_path / "cut.078"
    bad.write_bytes((DATA / "maccor" / "xTESLADIAG_000038.078").read_bytes()[:3000])
    assert main(["import", str(bad), str(DATA / "maccor" / "xTESLADIAG_000038.078"),
                 "--db", url]) == 1  # fmt: skip
    out = capsys.readouterr().out
    assert "1 imported, 0 already there, 1 failed" in out and "cut.078" in out
    assert main(["runs", "--db", url, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
