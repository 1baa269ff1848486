"""The simulated instrument: cell physics, seeded noise, a virtual clock."""

from .channel import SimChannel
from .instrument import SimInstrument
from .models import build_cell_model

__all__ = ["SimChannel", "SimInstrument", "build_cell_model"]
