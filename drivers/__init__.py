"""Instrument drivers and the simulator, installed as ``cyclerctl.drivers``."""
