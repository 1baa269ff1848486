"""`cyclerctl protocols import|export`: the real EC-Lab settings in, every format out, and
what cannot travel refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclerctl.cli import main
from tests.protocol_io.conftest import DATA

JDB11_4 = DATA / "jdb11-4.mps"


@pytest.mark.skipif(not JDB11_4.exists(), reason="../shared/data/biologic-gcpl is absent")
def test_an_imported_mps_validates_and_runs_on_its_cell_hints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rate.toml"
    assert main(["protocols", "import", str(JDB11_4), "-o", str(out)]) == 0
    cell = tmp_path / "rate.cell.toml"
    assert out.exists() and cell.exists()
    assert "wrote" in capsys.readouterr().err
    # the hints name what the file cannot: a lab completes them before a run
    text = cell.read_text()
    assert "4.97 mg" in text
    assert '# model = "ncm622-li"' in text  # a simulator model is the lab's choice
    completed = tmp_path / "cell.toml"
    completed.write_text(
        text.replace("[sim]\n", 'specific_capacity = "140 mAh/g"\n\n[sim]\nmodel = "ncm622-li"\n')
    )
    assert main(["validate", str(out), "--cell", str(completed)]) == 0


@pytest.mark.parametrize("fmt", ["mps", "neware-xml", "pybamm"])
def test_export_writes_each_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"ncm622.{fmt}"
    code = main(["protocols", "export", "ncm622-cycling", "--cell", "ncm622-coin",
                 "--set", "cycles=3", "--format", fmt, "-o", str(out)])  # fmt: skip
    assert code == 0 and out.stat().st_size > 0


def test_an_exported_step_file_imports_back(tmp_path: Path) -> None:
    xml = tmp_path / "ncm622.xml"
    assert main(["protocols", "export", "ncm622-cycling", "--cell", "ncm622-coin",
                 "--format", "neware-xml", "-o", str(xml)]) == 0  # fmt: skip
    back = tmp_path / "back.toml"
    assert main(["protocols", "import", str(xml), "-o", str(back)]) == 0
    assert main(["validate", str(back), "--cell", "ncm622-coin"]) == 0


def test_what_cannot_travel_is_refused_with_the_step_and_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["protocols", "export", "li-cu-ce", "--cell", "li-qse-cu",
                 "--format", "neware-xml"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "short" in err and "step" in err


def test_a_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocols", "import", str(tmp_path / "none.mps")]) == 2
    assert "none.mps" in capsys.readouterr().err
