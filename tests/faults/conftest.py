"""Fixtures for fault tests: the daemon tests' lab folder and daemon processes."""

from tests.daemon.conftest import daemons, lab

__all__ = ["daemons", "lab"]
