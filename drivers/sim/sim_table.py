"""Reading a cell file's ``[sim]`` table: the keys a model knows, its seed.

Two keys belong to the simulated instrument, not to any cell model: ``eis_noise`` (the
relative noise on measured impedance) and ``chamber`` (a ``[sim.chamber]`` sub-table that
puts the instrument's cells in a simulated temperature chamber). The instrument reads them
and hands the model the table without them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from cyclerctl.plan import CellSummary

INSTRUMENT_KEYS = frozenset({"eis_noise", "chamber"})


def check_keys(cell: CellSummary, known: frozenset[str]) -> None:
    """Refuse a [sim] key the model would silently ignore (a typo costs a whole run)."""
    unknown = sorted(set(cell.sim) - known - INSTRUMENT_KEYS)
    if unknown:
        raise ValueError(
            f"cell {cell.name!r}: unknown [sim] key(s) {', '.join(unknown)}; "
            f"this model reads {', '.join(sorted(known))}"
        )


def read_seed(sim: Mapping[str, Any], default: int) -> int:
    raw = sim.get("seed", default)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValueError(f"[sim] seed = {raw!r}: expected a whole number ≥ 0")
    return raw


def without_instrument_keys(cell: CellSummary) -> CellSummary:
    """The cell as its model sees it: the [sim] table less the instrument's own keys."""
    if not INSTRUMENT_KEYS & set(cell.sim):
        return cell
    sim = {k: v for k, v in cell.sim.items() if k not in INSTRUMENT_KEYS}
    return dataclasses.replace(cell, sim=sim)
