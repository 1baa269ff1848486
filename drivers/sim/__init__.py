"""The simulated instrument: cell physics, seeded noise, a virtual clock, a chamber."""

from .chamber import SimChamber
from .channel import SimChannel
from .instrument import SimInstrument
from .models import build_cell_model

__all__ = ["SimChamber", "SimChannel", "SimInstrument", "build_cell_model"]
