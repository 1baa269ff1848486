"""Protocol files → Plans: parsing, validation with file:line errors, units, rendering.

The CLI uses only what is exported here.
"""

from .compiler import load_cell, load_plan
from .errors import InputError, ProtocolError
from .harm import ChannelLimits
from .library import LibraryEntry, list_cells, list_protocols
from .render import plan_to_json, render_plan_table
from .schema import cell_json_schema, protocol_json_schema
from .units import parse_quantity

__all__ = [
    "ChannelLimits",
    "InputError",
    "LibraryEntry",
    "ProtocolError",
    "cell_json_schema",
    "list_cells",
    "list_protocols",
    "load_cell",
    "load_plan",
    "parse_quantity",
    "plan_to_json",
    "protocol_json_schema",
    "render_plan_table",
]
