"""`cyclerctl tui`: the technician's terminal UI (DESIGN.md, "Who uses it").

It never imports the engine or a driver: it reads the database (data.LabData, polled
from a worker thread) and writes runs and operator commands to it; a daemon does the rest,
so closing the TUI never stops a run.
"""
