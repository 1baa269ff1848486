"""Turning plans, cells and analysis output into JSON the database accepts on any dialect."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any

import numpy as np

from cyclerctl.plan import Plan, Ref


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types.

    Dataclasses become dicts (a :class:`Ref` becomes ``{"variable", "factor"}``), numpy
    scalars and arrays become Python numbers and lists, and non-finite floats become None:
    PostgreSQL's JSON rejects NaN, and null is what "no value" means in JSON.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, Ref):
        return {"variable": value.variable, "factor": value.factor}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON: {value!r}")


def dumps(value: Any) -> str:
    """The engine's JSON serializer (SQLAlchemy ``json_serializer``)."""
    return json.dumps(jsonable(value), allow_nan=False)


def plan_table(plan: Plan) -> list[dict[str, Any]]:
    """The plan's step table (every field of every Step, in index order) for ``plan_json``."""
    table: list[dict[str, Any]] = [jsonable(step) for step in plan.steps]
    return table
