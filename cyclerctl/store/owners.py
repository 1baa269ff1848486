"""Who owns an active run, and whether that owner is still alive.

Every running or paused run names its owner in ``runs.daemon``: a daemon, or — since
issue 18 — the foreground process of ``cyclerctl run`` / ``cyclerctl resume``, registered
in the ``daemons`` table as ``run@<host>:<pid>`` and heartbeating like a daemon. An owner
is gone when its heartbeat is older than ``stale_after_s``, or at once when it ran on this
machine and its process no longer exists (kill -9, a crash). A run whose owner is gone is
**orphaned**: shown so by ``runs``, ``status`` and the TUI, taken over by ``cyclerctl
resume RUN`` or adopted by a daemon whose config has its channel. (Runs recorded before
foreground owners existed have no owner and are never called orphaned: nobody can tell.)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime

from cyclerctl.host_os import pid_alive
from cyclerctl.store.records import ACTIVE_STATUSES, DaemonInfo, RunInfo, utcnow

#: what ``runs``/``status``/the TUI show for an active run whose owner is gone
ORPHANED = "orphaned"
FOREGROUND_PREFIX = "run@"


def foreground_owner(host: str | None = None, pid: int | None = None) -> str:
    """The owner name of this foreground process: ``run@<host>:<pid>``."""
    return f"{FOREGROUND_PREFIX}{host or socket.gethostname()}:{pid or os.getpid()}"


def is_foreground(owner: str | None) -> bool:
    return owner is not None and owner.startswith(FOREGROUND_PREFIX)


def owner_alive(
    owner: DaemonInfo | None,
    *,
    stale_after_s: float,
    now: datetime | None = None,
    host: str | None = None,
) -> bool:
    """True while ``owner`` (its daemons row; None: never registered) looks alive."""
    if owner is None:
        return False
    age = owner.age_s(now or utcnow())
    if age > stale_after_s:
        return False
    # on this machine a process that is gone is known at once: no need to wait
    return owner.host != (host or socket.gethostname()) or pid_alive(owner.pid)


def dead_owners(daemons: Iterable[DaemonInfo], *, stale_after_s: float) -> set[str]:
    """Names of the owners that are gone (see :func:`owner_alive`)."""
    now, host = utcnow(), socket.gethostname()
    return {
        d.name
        for d in daemons
        if not owner_alive(d, stale_after_s=stale_after_s, now=now, host=host)
    }


def orphaned(run: RunInfo, owners: dict[str, DaemonInfo], *, stale_after_s: float) -> bool:
    """The run is active and its owner is gone."""
    if run.status not in ACTIVE_STATUSES or run.daemon is None:
        return False
    return not owner_alive(owners.get(run.daemon), stale_after_s=stale_after_s)


def shown_status(run: RunInfo, owners: dict[str, DaemonInfo], *, stale_after_s: float) -> str:
    """The status to show: ``orphaned`` for an active run whose owner is gone."""
    return ORPHANED if orphaned(run, owners, stale_after_s=stale_after_s) else run.status
