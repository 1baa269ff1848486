"""Which half cycle is a half cell's "charge": it follows the working electrode.

A half cell is the working electrode against Li. The instrument's sign is the same for
every cell: positive current oxidises the working electrode. What a battery researcher
calls charge is the direction that charges the full cell the electrode belongs in:

- a **cathode** (NCM, LCO, LFP, NCA, LMO, S, …) is charged by delithiation, a positive
  current, as its voltage rises;
- an **anode** (graphite, Si, LTO, hard carbon, Sn, …) is charged by lithiation, which in
  its half cell against Li is a *negative* current (the half cell's own "discharge", its
  voltage falling towards 0 V); its delithiation (positive current) is its discharge.

So Coulombic efficiency is discharge / charge for both: delithiation / lithiation of an
anode, lithiation / delithiation of a cathode. The role is read from the cell's chemistry
(the first component of ``"NCM622|Li"``), or given by ``[analysis] working_electrode =
"cathode" | "anode"``; a material it does not know is taken as a cathode, which is also the
instrument's own convention (positive current = charge).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROLES = ("cathode", "anode")
#: Working-electrode materials charged by lithiation (lower case, without spaces and '-').
ANODE_MATERIALS = (
    "graphite", "gr", "c", "hc", "hardcarbon", "softcarbon", "mcmb", "si", "siox", "sio",
    "sic", "si/c", "lto", "li4ti5o12", "tio2", "nb2o5", "tinb2o7", "sn", "sb", "ge", "p",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ElectrodeRole:
    role: str  # "cathode" | "anode"
    decided_by: str

    @property
    def charge_sign(self) -> int:
        """Sign of the current that charges this electrode (+1 cathode, -1 anode)."""
        return 1 if self.role == "cathode" else -1

    def describe(self) -> dict[str, str]:
        if self.role == "cathode":
            charge = "positive current: delithiation (oxidation) of the cathode, V rising"
            discharge = "negative current: lithiation of the cathode, V falling"
        else:
            charge = (
                "negative current: lithiation of the anode (the half cell's own discharge "
                "vs Li, V falling), which charges the anode"
            )
            discharge = "positive current: delithiation of the anode, V rising"
        return {
            "working_electrode": self.role,
            "decided_by": self.decided_by,
            "charge": charge,
            "discharge": discharge,
        }


def working_electrode(chemistry: str, options: Mapping[str, Any]) -> ElectrodeRole:
    """The working electrode's role from ``[analysis] working_electrode`` or the chemistry."""
    given = options.get("working_electrode")
    if given is not None:
        if given not in ROLES:
            raise ValueError(
                f"[analysis] working_electrode = {given!r}: expected 'cathode' or 'anode'"
            )
        return ElectrodeRole(str(given), "[analysis] working_electrode")
    first = chemistry.split("|", 1)[0]
    token = re.sub(r"[\s\-_]", "", first).lower()
    is_anode = token in ANODE_MATERIALS or token.startswith(("graphite", "si", "lto"))
    role = "anode" if is_anode else "cathode"
    return ElectrodeRole(role, f"cell chemistry {chemistry!r} (working electrode {first!r})")
