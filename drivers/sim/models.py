"""The cell models the simulator knows, by the name a cell file gives in ``[sim] model``.

A new model is one module with a ``build(cell) -> CellModel`` function and one line here;
the channel never changes.
"""

from __future__ import annotations

from collections.abc import Callable

from cyclerctl.plan import CellSummary

from . import blocking, dummy, lco, li_cu, li_li, li_ss, ncm622
from .model import CellModel


def _pybamm(cell: CellSummary) -> CellModel:
    # imported on first use: pybamm is an optional extra and takes seconds to import
    from . import pybamm_model

    return pybamm_model.build(cell)


MODELS: dict[str, Callable[[CellSummary], CellModel]] = {
    ncm622.NAME: ncm622.ncm622_li,
    blocking.NAME: blocking.blocking,
    li_ss.NAME: li_ss.li_ss,
    li_li.NAME: li_li.li_li,
    li_cu.NAME: li_cu.li_cu,
    lco.NAME: lco.lco_li,
    dummy.NAME: dummy.dummy,
    "pybamm": _pybamm,
}


def build_cell_model(cell: CellSummary) -> CellModel:
    """The model that ``cell.sim["model"]`` names, with the cell's parameters."""
    name = cell.sim.get("model")
    if name is None:
        raise ValueError(
            f"cell {cell.name!r} has no [sim] model; the simulator knows: {_known()}"
        )
    build = MODELS.get(name) if isinstance(name, str) else None
    if build is None:
        raise ValueError(
            f"cell {cell.name!r}: unknown simulator model {name!r}; known models: {_known()}"
        )
    return build(cell)


def _known() -> str:
    return ", ".join(sorted(MODELS))
