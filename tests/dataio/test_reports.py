"""Every library protocol, run on the simulator (shortened), gets its report figures.

Each expected PNG is opened and must be the report's size and not blank (its pixels vary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cyclerctl.cli import main
from cyclerctl.report.plot import DPI, FIGSIZE

pytestmark = pytest.mark.slow

#: protocol → (cell, --set overrides, PNGs its report must hold)
CASES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "eis-conductivity": ("ss-qse-ss", (), ("nyquist",)),
    "eis-arrhenius": ("ss-qse-ss", (), ("nyquist", "arrhenius")),
    "lsv-window": ("li-qse-ss", (), ("vi", "lsv")),
    "li-cu-ce": ("li-qse-cu", ("cycles=3",), ("vi", "ce_trace")),
    "li-cu-nucleation": ("li-qse-cu", (), ("vi", "nucleation")),
    "ccd-ramp": ("li-qse-li", (), ("vi", "ccd")),
    "li-li-cycling": ("li-qse-li", ("cycles=5",), ("vi", "overpotential")),
    "transference-bruce-vincent": (
        "li-qse-li",
        (),
        ("vi", "polarization", "nyquist_before", "nyquist_after"),
    ),
    "lco-rate": ("lco-coin", ("cycles_per_rate=1",), ("vi", "capacity", "profiles", "rate")),
    "ncm622-cycling": (
        "ncm622-coin",
        ("cycles=2", "formation_cycles=1"),
        ("vi", "capacity", "profiles", "dqdv"),
    ),
}
MIN_STD = 0.02  # grey-level standard deviation (0–1 scale) a drawn figure easily exceeds


def _read_png(path: Path) -> np.ndarray[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    return np.asarray(mpimg.imread(path))


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_report_figures_of_each_library_protocol(
    protocol: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cell, overrides, expected = CASES[protocol]
    url = f"sqlite:///{in_tmp / 'runs.db'}"
    sets = [arg for o in overrides for arg in ("--set", o)]
    assert main(["run", protocol, "--cell", cell, "--db", url, "--json", *sets]) == 0
    run_id = str(json.loads(capsys.readouterr().out)["run"]["id"])
    out = in_tmp / "report"
    assert main(["report", run_id, "-o", str(out), "--db", url]) == 0
    index = (out / "index.html").read_text(encoding="utf-8")
    width, height = int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI)
    for name in expected:
        png = out / f"{name}.png"
        assert png.is_file(), f"{protocol}: no {png.name}; made {sorted(out.glob('*.png'))}"
        assert png.name in index
        pixels = _read_png(png)
        assert pixels.shape[:2] == (height, width), (png.name, pixels.shape)
        grey = pixels[..., :3].mean(axis=-1)
        assert float(grey.std()) > MIN_STD, f"{protocol}: {png.name} looks blank"
