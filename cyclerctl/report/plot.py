"""matplotlib (Agg backend, no display) and the figure conventions every report figure shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from numpy.typing import NDArray

MAX_POINTS = 20_000
FIGSIZE = (8.0, 5.0)
#: Multi-panel figures (the EIS panels, the Lin-KK residuals): the same width, taller.
FIGSIZE_PANELS = (8.0, 7.0)
DPI = 100


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path, *, tight: bool = True) -> Path:
    """Write the PNG; ``tight=False`` for a figure made with ``layout="constrained"``."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    pyplot().close(fig)
    return path


def thin(rows: NDArray[Any], max_points: int = MAX_POINTS) -> NDArray[Any]:
    """Every k-th row so that at most about ``max_points`` are drawn."""
    return rows[:: max(1, rows.size // max_points)]
