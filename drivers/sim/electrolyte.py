"""The electrolyte between two electrodes: Arrhenius conductivity and bulk resistance.

    σ(T) = σ_ref · exp(−E_a/k_B · (1/T − 1/T_ref)),    R_b = L / (σ · S)

``conductivity`` is σ_ref at ``reference_temperature``; ``activation_energy`` E_a (eV or
kJ/mol in the cell file, J inside). Models of cells with an electrolyte layer (the blocking
conductivity cell, Li‖SS) share these keys and defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .units import sim_value

BOLTZMANN_J_K = 1.380649e-23
VACUUM_PERMITTIVITY_F_M = 8.8541878128e-12
KEYS = frozenset({"conductivity", "reference_temperature", "activation_energy"})
DEFAULTS = {
    "conductivity": "3e-4 S/cm",
    "reference_temperature": "30 degC",
    "activation_energy": "0.30 eV",
}


@dataclass(frozen=True, slots=True)
class Electrolyte:
    conductivity_S_m: float  # σ_ref
    reference_temperature_K: float  # T_ref
    activation_energy_J: float  # E_a

    @classmethod
    def from_sim(cls, sim: Mapping[str, Any], cell_name: str) -> Electrolyte:
        electrolyte = cls(
            conductivity_S_m=sim_value(sim, "conductivity", DEFAULTS["conductivity"], "S/m"),
            reference_temperature_K=sim_value(
                sim, "reference_temperature", DEFAULTS["reference_temperature"], "K"
            ),
            activation_energy_J=sim_value(
                sim, "activation_energy", DEFAULTS["activation_energy"], "J"
            ),
        )
        problems = [
            text
            for bad, text in (
                (electrolyte.conductivity_S_m <= 0, "conductivity must be > 0"),
                (electrolyte.reference_temperature_K <= 0, "reference_temperature must be > 0 K"),
                (electrolyte.activation_energy_J < 0, "activation_energy must be ≥ 0"),
            )
            if bad
        ]
        if problems:
            raise ValueError(f"cell {cell_name!r}: [sim] " + "; ".join(problems))
        return electrolyte

    def conductivity_at(self, temperature_K: float) -> float:
        """σ(T), Arrhenius from the reference point."""
        inverse = 1.0 / temperature_K - 1.0 / self.reference_temperature_K
        return self.conductivity_S_m * math.exp(
            -self.activation_energy_J / BOLTZMANN_J_K * inverse
        )

    def resistance_factor(self, temperature_K: float) -> float:
        """R(T) / R(T_ref) for any resistance the electrolyte's transport sets."""
        return self.conductivity_S_m / self.conductivity_at(temperature_K)


def bulk_resistance_ohm(conductivity_S_m: float, thickness_m: float, area_m2: float) -> float:
    return thickness_m / (conductivity_S_m * area_m2)
