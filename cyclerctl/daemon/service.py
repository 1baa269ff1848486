"""The daemon as a service: its systemd unit, and the check run before each start.

``cyclerctl daemon --print-systemd-unit`` prints a unit that runs the daemon as the user
who asked for it, with absolute paths (the cyclerctl command, the config file), restarts
it when it fails (not when it was stopped: a SIGTERM detaches the runs cleanly for the
next start), and runs ``cyclerctl daemon --check-config`` first, so a broken config or an
unreachable database shows in ``systemctl status`` instead of a restart loop of tracebacks.
"""

from __future__ import annotations

from pathlib import Path

from cyclerctl.config import Config

#: the supervisor's DETACH_TIMEOUT_S (20 s) and the store's last commit, with room to spare
STOP_TIMEOUT_S = 60


def systemd_unit(config: Config, *, executable: Path, user: str, db: str | None = None) -> str:
    """The unit file text for the daemon of ``config`` (its path must be known)."""
    assert config.path is not None
    config_path = config.path.resolve()
    args = f"--config {_quoted(str(config_path))}"
    if db is not None:  # never one with a password: the CLI refuses those
        args += f" --db {_quoted(db)}"
    command = _quoted(str(executable))
    return f"""\
# cyclerctl daemon {config.daemon.name}: written by `cyclerctl daemon --print-systemd-unit`
# Install:  sudo tee /etc/systemd/system/cyclerctl.service < this file
#           sudo systemctl daemon-reload && sudo systemctl enable --now cyclerctl
[Unit]
Description=cyclerctl daemon {config.daemon.name} (battery test runs on this PC's instruments)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={_quoted(str(config_path.parent))}
Environment=PYTHONUNBUFFERED=1
# secrets (CYCLERCTL_DB_PASSWORD, a [[notify]] password_env) from an owner-only file:
# EnvironmentFile={config_path.parent}/cyclerctl.env
ExecStartPre={command} daemon --check-config {args}
ExecStart={command} daemon {args}
Restart=on-failure
RestartSec=10
# SIGTERM: the daemon detaches its runs (they resume at the next start) and commits
KillSignal=SIGTERM
TimeoutStopSec={STOP_TIMEOUT_S}

[Install]
WantedBy=multi-user.target
"""


def _quoted(value: str) -> str:
    """A word of a systemd command line (quoted when it has blanks or quotes)."""
    if any(c.isspace() or c in "\"'\\" for c in value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return value


def check_lines(config: Config, database: str, schema_ok: bool) -> list[str]:
    """What ``--check-config`` found, one line each (it got here: nothing is wrong)."""
    lines = [
        f"config {config.path.resolve() if config.path else None}: ok (daemon {config.daemon.name})"
    ]
    lines.append(f"database {database}: reached{', schema up to date' if schema_ok else ''}")
    for inst in config.instruments:
        where = f" at {inst.address}" if inst.address else ""
        channels = ", ".join(inst.channel_names)
        lines.append(f"instrument {inst.name}: {inst.driver}{where}; channels {channels}")
    for chamber in config.chambers:
        lines.append(f"chamber {chamber.name}: {chamber.driver} at {chamber.address}")
    for target in config.notify:
        lines.append(f"notify {target.shown}: on {', '.join(target.on)}")
    return lines
