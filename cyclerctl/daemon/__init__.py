"""The headless scheduler: `cyclerctl daemon` (DESIGN.md, "Who uses it": overnight runs).

It drives the instruments of its config file, takes queued runs off the database's queue
for its free channels, answers operator commands (pause/resume/stop) written to the
database by the CLI or the TUI, sends a heartbeat, and resumes its own or a dead daemon's
runs from their checkpoints. See :mod:`cyclerctl.daemon.supervisor`.
"""

from cyclerctl.daemon.supervisor import Daemon, run_daemon

__all__ = ["Daemon", "run_daemon"]
