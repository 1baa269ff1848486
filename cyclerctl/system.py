"""What differs between the lab PC's operating systems, in one place.

Linux (and other POSIX systems) run the daemon as a systemd service; a Windows lab PC runs
it as a scheduled task started at boot (``schtasks``) or as a service through NSSM (the
Non-Sucking Service Manager), which this module only names: it writes no Windows service.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

IS_WINDOWS = os.name == "nt"

#: What a Windows lab PC uses instead of a systemd unit.
WINDOWS_SERVICE_NOTE = (
    "a Windows lab PC has no systemd: run `cyclerctl daemon --config lab.toml` as a "
    'scheduled task at start-up (schtasks /create /sc onstart /ru <user> /tr "…"), or as '
    "a service with NSSM (nssm install cyclerctl <path to cyclerctl.exe> daemon --config …)"
)


def current_user() -> str:
    """The login name of the user running this command (whom a service should run as)."""
    if IS_WINDOWS:
        import getpass

        return getpass.getuser()
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def cyclerctl_executable() -> Path:
    """The absolute path of the ``cyclerctl`` command this process was started as.

    ``python -m cyclerctl`` has no such command: the one beside this interpreter (the
    virtual environment's) is named, then the first on PATH.
    """
    name = "cyclerctl.exe" if IS_WINDOWS else "cyclerctl"
    started = Path(sys.argv[0])
    if started.name == name and started.exists():
        return started.resolve()
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside.absolute()  # not resolved: a venv's python may be a link elsewhere
    found = shutil.which(name)
    if found is not None:
        return Path(found).absolute()
    return beside.absolute()
