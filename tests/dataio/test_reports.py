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
from cyclerctl.report.plot import DPI, FIGSIZE, FIGSIZE_PANELS

pytestmark = pytest.mark.slow

#: protocol → (cell, --set overrides, PNGs its report must hold)
CASES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "eis-conductivity": ("ss-qse-ss", (), ("nyquist", "kk")),
    "eis-arrhenius": ("ss-qse-ss", (), ("nyquist", "kk", "arrhenius")),
    "lsv-window": ("li-qse-ss", (), ("vi", "lsv")),
    "li-cu-ce": ("li-qse-cu", ("cycles=3",), ("vi", "ce_trace", "li_cu_cycles")),
    "li-cu-nucleation": ("li-qse-cu", (), ("vi", "nucleation")),
    "ccd-ramp": ("li-qse-li", (), ("vi", "ccd")),
    "li-li-cycling": ("li-qse-li", ("cycles=5",), ("vi", "overpotential")),
    "transference-bruce-vincent": (
        "li-qse-li",
        (),
        ("vi", "polarization", "nyquist", "kk"),
    ),
    "lco-rate": ("lco-coin", ("cycles_per_rate=1",), ("vi", "capacity", "profiles", "rate")),
    "ncm622-cycling": (
        "ncm622-coin",
        ("cycles=2", "formation_cycles=1"),
        ("vi", "capacity", "profiles", "dqdv"),
    ),
}
#: the multi-panel figures are taller than the others
PANELS = ("nyquist", "kk")
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
    for name in expected:
        size = FIGSIZE_PANELS if name in PANELS else FIGSIZE
        width, height = int(size[0] * DPI), int(size[1] * DPI)
        png = out / f"{name}.png"
        assert png.is_file(), f"{protocol}: no {png.name}; made {sorted(out.glob('*.png'))}"
        assert png.name in index
        pixels = _read_png(png)
        assert pixels.shape[:2] == (height, width), (png.name, pixels.shape)
        grey = pixels[..., :3].mean(axis=-1)
        assert float(grey.std()) > MIN_STD, f"{protocol}: {png.name} looks blank"


def _run(protocol: str, cell: str, url: str, capsys: pytest.CaptureFixture[str], *sets: str) -> int:
    args = [a for s in sets for a in ("--set", s)]
    assert main(["run", protocol, "--cell", cell, "--db", url, "--json", *args]) == 0
    return int(json.loads(capsys.readouterr().out)["run"]["id"])


def test_eis_figures_label_spectra_by_temperature_and_zoom_on_r_b(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The eis-arrhenius report of issue 15: series by temperature, not "step 2 … step 14",
    each with its fit and R_b; the zoom reaches just past the largest R_b (a few Ω), not
    the blocking spike's 10⁵ Ω; and the other Arrhenius form by reanalysis."""
    from cyclerctl.reanalysis import reanalyse, run_data
    from cyclerctl.report.eis import _zoom_limit, spectra_of
    from cyclerctl.store import Store

    url = f"sqlite:///{in_tmp / 'runs.db'}"
    run_id = _run("eis-arrhenius", "ss-qse-ss", url, capsys, "soak=1 min")
    store = Store.open(url)
    try:
        data, results = run_data(store, run_id), store.results(run_id)
        spectra = spectra_of(data, results, "arrhenius")
        assert [s.label for s in spectra] == [f"{t} °C" for t in range(30, 100, 10)]
        assert all(s.fit is not None and s.marks["R_b"] > 0 for s in spectra)
        largest = max(s.marks["R_b"] for s in spectra)
        assert largest < 100.0 < float(np.abs(spectra[0].Z).max())
        assert _zoom_limit(spectra) == pytest.approx(1.4 * largest)
        sigma = results["activation_energy_eV"].value
        assert results["activation_energy_eV"].source["form"] == "sigma"
        other = reanalyse(store, run_id, options={"form": "sigma_T"}).results
        assert other["activation_energy_eV"].source["form"] == "sigma_T"
        other_ea = other["activation_energy_eV"].value
        assert sigma is not None and other_ea is not None and other_ea > sigma
        assert store.results(run_id)["activation_energy_eV"].source["form"] == "sigma_T"
    finally:
        store.close()


def test_bruce_vincent_spectra_are_before_and_after(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cyclerctl.reanalysis import run_data
    from cyclerctl.report.eis import spectra_of
    from cyclerctl.store import Store

    url = f"sqlite:///{in_tmp / 'runs.db'}"
    run_id = _run("transference-bruce-vincent", "li-qse-li", url, capsys)
    store = Store.open(url)
    try:
        spectra = spectra_of(run_data(store, run_id), store.results(run_id), "bruce-vincent")
        assert [s.label for s in spectra] == ["before", "after"]
        for s in spectra:
            assert s.fit is not None and s.fit["circuit"] == "R-RQ"
            assert 0 < s.marks["R_b"] < s.marks["R_b + R_i"]
    finally:
        store.close()
