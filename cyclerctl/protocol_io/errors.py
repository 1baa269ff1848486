"""The one error every protocol reader and writer raises."""

from __future__ import annotations


class ProtocolIOError(ValueError):
    """A foreign protocol file we cannot read, or a Plan a format cannot hold.

    The message names where (file, technique, sequence ``Ns``, field) and what is allowed;
    the CLI prints it and exits 2. Nothing is written when it is raised.
    """
