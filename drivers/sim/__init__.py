"""The simulated instrument: cell physics, seeded noise, a virtual clock."""
