"""JSON Schemas of protocol and cell files, for editors (``cyclerctl schema``)."""

from __future__ import annotations

from typing import Any

from .cell import CellFile
from .model import ProtocolFile

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def protocol_json_schema() -> dict[str, Any]:
    return {"$schema": _DIALECT, **ProtocolFile.model_json_schema(by_alias=True)}


def cell_json_schema() -> dict[str, Any]:
    return {"$schema": _DIALECT, **CellFile.model_json_schema(by_alias=True)}
