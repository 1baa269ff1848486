"""The lab's config file (see config.example.toml) and where the database is.

Precedence for the database URL: ``--db`` on the command line, then the environment
variable ``CYCLERCTL_DB``, then ``[database] url`` in the config file, then
``sqlite:///cyclerctl.db`` in the current directory. A password never comes from the
command line; see :mod:`cyclerctl.credentials` for where it does come from. The config
file is ``--config PATH``, else ``CYCLERCTL_CONFIG``, else ``./cyclerctl.toml`` when it
exists.

The daemon's part of the file: ``[daemon]`` (name, heartbeat, stale_after), the instruments
it drives (``[[instruments]]``, each with hard per-channel ``[instruments.limits]``), the
temperature chambers (``[[chambers]]``) and who is told when something happens
(``[[notify]]``, :mod:`cyclerctl.notify.targets`). Every error names the file, the line and the
field (``lab.toml:12: instruments[2].driver: …``); the CLI exits 2 on any of them.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclerctl.notify.targets import NotifyTarget, read_targets
from cyclerctl.plan import SafetyLimit

DEFAULT_DB = "sqlite:///cyclerctl.db"
#: Instrument drivers a config may name (``sim`` is built in; the rest are in the registry).
INSTRUMENT_DRIVERS = ("sim", "biologic", "neware", "scpi")
#: Hard limits a config may set per instrument, and the kind of quantity of each.
LIMIT_KINDS = {
    "voltage_max": "voltage",
    "voltage_min": "voltage",
    "current_max": "current",
    "temperature_max": "temperature",
}
#: No instrument has more channels than this; a larger number is a typo (and would make
#: the daemon build millions of channels).
MAX_CHANNEL = 4096
MAX_SPEED = 1e9  # real time × speed: past this, use virtual time (realtime = false)
_DAEMON_KEYS = {
    *("name", "heartbeat", "stale_after", "poll", "stall_alarm", "instrument_lost_after"),
    "store_outage_alarm",
}
_INSTRUMENT_KEYS = {
    *("name", "driver", "address", "options", "channels", "cells", "speed", "realtime"),
    *("limits", "chamber"),
}
_CHAMBER_KEYS = {"name", "driver", "address", "options", "instruments"}
_WEB_KEYS = {"listen", "auth"}
_WEB_AUTH_KEYS = {"token", "token_file", "users"}
#: how a stored password hash starts (cyclerctl.web.auth.hash_password writes them)
PASSWORD_HASH_PREFIX = "pbkdf2_sha256$"


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """``[daemon]``: who this daemon is in the database, and how often it says so."""

    name: str = field(default_factory=socket.gethostname)
    heartbeat_s: float = 2.0
    stale_after_s: float = 15.0
    poll_s: float = 0.5  # how often it looks for queued runs and operator commands
    stall_alarm_s: float = 30.0  # a driver call that has not returned this long: an alarm
    #: an instrument out of reach this long ends its runs (instrument:lost); until then the
    #: runs pause (host-sequenced) or go on reading (steps running on board)
    instrument_lost_after_s: float = 600.0
    #: the database unwritable this long: a store_outage notification ([[notify]])
    store_outage_alarm_s: float = 30.0


@dataclass(frozen=True, slots=True)
class WebSettings:
    """``[web]``: where ``cyclerctl web`` listens and who may read the pages.

    Secrets follow the database password's rules (:mod:`cyclerctl.credentials`): the token
    comes from ``$CYCLERCTL_WEB_TOKEN``, from ``[web.auth] token`` only when the config file
    is owner-only, or from ``token_file`` (owner-only, read when the server starts); users'
    passwords are stored only as hashes (``cyclerctl.web.auth.hash_password``).
    """

    listen: str | None = None  # "HOST:PORT"; None: the default, 127.0.0.1:8765
    token: str | None = None
    token_file: Path | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # name → password hash

    @property
    def auth_configured(self) -> bool:
        return bool(self.token or self.token_file or self.users)


@dataclass(frozen=True, slots=True)
class InstrumentConfig:
    """One ``[[instruments]]`` entry: a connection and the channels the daemon drives on it."""

    name: str
    driver: str
    address: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    numbers: tuple[int, ...] = (1,)  # the instrument's own channel numbers (1-based)
    cells: tuple[str, ...] = ()  # sim: the simulated cell on each channel (spec per channel)
    speed: float = 1.0  # sim: real time × speed
    realtime: bool = False  # sim: follow the wall clock (else virtual time, as fast as it goes)
    limits: tuple[SafetyLimit, ...] = ()  # hard, per channel; a protocol can only narrow them
    chamber: str | None = None  # the [[chambers]] entry the cells sit in

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(f"{self.name}:{n}" for n in self.numbers)

    def cell_for(self, number: int) -> str | None:
        """The configured simulated cell of channel ``number`` (None: the run's own cell)."""
        if not self.cells:
            return None
        return self.cells[self.numbers.index(number)]


@dataclass(frozen=True, slots=True)
class ChamberConfig:
    """One ``[[chambers]]`` entry: a temperature chamber and the instruments inside it."""

    name: str
    driver: str = "chamber"
    address: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    instruments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    database_url: str | None = None
    database_password_file: Path | None = None
    #: points the writer may hold while the database cannot be written (then runs stop)
    database_backlog_rows: int | None = None
    database_retry_max_s: float | None = None  # the longest wait between write retries
    operator: str | None = None
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    instruments: tuple[InstrumentConfig, ...] = ()
    chambers: tuple[ChamberConfig, ...] = ()
    web: WebSettings = field(default_factory=WebSettings)
    #: ``[[notify]]``: who hears of safety stops, failures, lost instruments…
    notify: tuple[NotifyTarget, ...] = ()

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Every channel the config names, ``<instrument>:<n>``, in file order."""
        return tuple(name for inst in self.instruments for name in inst.channel_names)

    def find_channel(self, channel: str) -> tuple[InstrumentConfig, int] | None:
        """The instrument and channel number of ``<instrument>:<n>``, or None."""
        name, _, number = channel.rpartition(":")
        for inst in self.instruments:
            if inst.name == name and number.isdigit() and int(number) in inst.numbers:
                return inst, int(number)
        return None

    def chamber_of(self, instrument: InstrumentConfig) -> ChamberConfig | None:
        """The chamber the instrument's cells sit in (named on either side), or None."""
        for chamber in self.chambers:
            if instrument.name in chamber.instruments or chamber.name == instrument.chamber:
                return chamber
        return None


def load_config(path: str | None) -> Config:
    chosen = path or os.environ.get("CYCLERCTL_CONFIG")
    if chosen is None:
        default = Path("cyclerctl.toml")
        if not default.is_file():
            return Config()
        chosen = str(default)
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read it: {exc}") from None
    from cyclerctl.protocol import ProtocolError
    from cyclerctl.protocol.toml_positions import parse_toml

    try:
        data = parse_toml(text, str(file)).data
    except ProtocolError as exc:  # TOML syntax, on its line; or values nested absurdly deep
        raise ConfigError(str(exc)) from None
    return _Reader(file, text).config(data)


def database_url(cli_value: str | None, config: Config) -> str:
    """The URL to open, with its password (credentials.CredentialError: one would leak)."""
    from cyclerctl.credentials import refuse_command_line_password, with_password

    refuse_command_line_password(cli_value)
    url = cli_value or os.environ.get("CYCLERCTL_DB") or config.database_url or DEFAULT_DB
    return with_password(url, config.database_password_file)


def default_operator(cli_value: str | None, config: Config) -> str:
    return (
        cli_value
        or config.operator
        or os.environ.get("CYCLERCTL_OPERATOR")
        or os.environ.get("USER")
        or "unknown"
    )


KeyPath = tuple[str | int, ...]


class _Reader:
    """Reads one config file, collecting every error with its line before raising."""

    def __init__(self, file: Path, text: str) -> None:
        from cyclerctl.protocol.errors import ErrorSink
        from cyclerctl.protocol.toml_positions import key_lines

        self.file = file
        self.sink = ErrorSink(str(file), key_lines(text))

    def error(self, at: KeyPath, message: str) -> None:
        self.sink.add(at, message)

    def config(self, data: dict[str, Any]) -> Config:
        database = data.get("database", {})
        url: str | None = None
        password_file: Path | None = None
        backlog_rows: int | None = None
        retry_max_s: float | None = None
        daemon_table: Any = data.get("daemon")
        if not isinstance(database, dict):
            self.error(("database",), "must be a table with `url`")
        else:
            known = {"url", "password_file", "backlog_rows", "retry_max", "daemon"}
            self.unknown(database, ("database",), known)
            url = self.database_url(database)
            password_file = self.password_file(database)
            backlog_rows = self.backlog_rows(database)
            if "retry_max" in database:
                retry_max_s = self.duration(database, ("database", "retry_max"), 5.0)
            if "daemon" in database:  # `daemon = {…}` written under [database]
                if daemon_table is not None:
                    self.error(("database", "daemon"), "[daemon] is set at the top level too")
                daemon_table = database["daemon"]
        operator = data.get("operator")
        if operator is not None and not isinstance(operator, str):
            self.error(("operator",), "must be a string")
            operator = None
        daemon = self.daemon(daemon_table)
        instruments = self.instruments(data.get("instruments", []))
        chambers = self.chambers(data.get("chambers", []), instruments)
        web = self.web(data.get("web"))
        notify = read_targets(data.get("notify"), self.file, self.error)
        if self.sink.errors:
            raise ConfigError("\n".join(str(e) for e in self.sink.errors))
        return Config(
            self.file,
            url,
            password_file,
            backlog_rows,
            retry_max_s,
            operator,
            daemon,
            instruments,
            chambers,
            web,
            notify,
        )

    def backlog_rows(self, database: Mapping[str, Any]) -> int | None:
        value = database.get("backlog_rows")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1_000 <= value <= 10**9:
            self.error(
                ("database", "backlog_rows"),
                f"must be a whole number of points from 1000 to 1000000000, got {value!r}",
            )
            return None
        return value

    def database_url(self, database: Mapping[str, Any]) -> str | None:
        from cyclerctl.credentials import has_password, readable_by_others

        url = self.string(database, ("database", "url"), required=False)
        if url is not None and has_password(url):
            loose = readable_by_others(self.file)
            if loose is not None:
                self.error(
                    ("database", "url"),
                    f"carries a password, but {self.file} can be read by others ({loose}):"
                    f" chmod 600 {self.file}, or move the password to password_file or"
                    " $CYCLERCTL_DB_PASSWORD",
                )
                return None
        return url

    def password_file(self, database: Mapping[str, Any]) -> Path | None:
        name = self.string(database, ("database", "password_file"), required=False)
        if name is None:
            return None
        path = self.file.parent / Path(name).expanduser()
        if not path.is_file():
            self.error(("database", "password_file"), f"no such file: {path}")
            return None
        return path

    # -- values ---------------------------------------------------------------------------

    def string(self, table: Mapping[str, Any], at: KeyPath, *, required: bool = True) -> str | None:
        value = table.get(str(at[-1]))
        if value is None:
            if required:
                self.error(at, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(at, f"must be a non-empty string, got {value!r}")
            return None
        return value

    def quantity(self, value: Any, at: KeyPath, kind: str, example: str) -> float | None:
        from cyclerctl.protocol import parse_quantity

        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(at, f"expected a {kind} such as {example!r}, got {value!r}")
            return None
        if not isinstance(value, str):
            if kind != "time":
                self.error(at, f"give the unit: a {kind} such as {example!r}")
                return None
            if not (abs(value) < 1e300 and math.isfinite(value)):  # also an int past float
                self.error(at, f"the number is out of range, got {value!r}")
                return None
            return float(value)  # a bare number of seconds
        try:
            return parse_quantity(value, kind)
        except ValueError as exc:
            self.error(at, str(exc))
            return None

    def duration(self, table: Mapping[str, Any], at: KeyPath, default: float) -> float:
        if str(at[-1]) not in table:
            return default
        value = self.quantity(table[str(at[-1])], at, "time", "2 s")
        if value is None:
            return default
        if not value > 0:
            self.error(at, f"must be longer than 0 s, got {table[str(at[-1])]!r}")
            return default
        return value

    def unknown(self, table: Mapping[str, Any], at: KeyPath, known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.error((*at, key), f"unknown field; the fields are: {', '.join(sorted(known))}")

    def table_list(self, value: Any, at: KeyPath) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(at, f"must be an array of tables ([[{at[-1]}]])")
            return []
        return value

    # -- sections -------------------------------------------------------------------------

    def daemon(self, table: Any) -> DaemonSettings:
        if table is None:
            return DaemonSettings()
        at: KeyPath = ("daemon",)
        if not isinstance(table, dict):
            self.error(at, 'must be a table such as { name = "lab-pc-1", heartbeat = "2 s" }')
            return DaemonSettings()
        self.unknown(table, at, _DAEMON_KEYS)
        defaults = DaemonSettings()
        name = self.string(table, (*at, "name"), required=False) or defaults.name
        heartbeat = self.duration(table, (*at, "heartbeat"), defaults.heartbeat_s)
        stale = self.duration(table, (*at, "stale_after"), defaults.stale_after_s)
        poll = self.duration(table, (*at, "poll"), defaults.poll_s)
        stall = self.duration(table, (*at, "stall_alarm"), defaults.stall_alarm_s)
        lost = self.duration(
            table, (*at, "instrument_lost_after"), defaults.instrument_lost_after_s
        )
        outage = self.duration(table, (*at, "store_outage_alarm"), defaults.store_outage_alarm_s)
        if stale < 2 * heartbeat:
            self.error(
                (*at, "stale_after"),
                f"must be at least twice the heartbeat ({heartbeat:g} s): a daemon that is "
                "only late would be taken for dead",
            )
        return DaemonSettings(name, heartbeat, stale, poll, stall, lost, outage)

    def web(self, table: Any) -> WebSettings:
        if table is None:
            return WebSettings()
        if not isinstance(table, dict):
            self.error(("web",), 'must be a table such as { listen = "127.0.0.1:8765" }')
            return WebSettings()
        self.unknown(table, ("web",), _WEB_KEYS)
        listen = self.string(table, ("web", "listen"), required=False)
        if listen is not None:
            from cyclerctl.web.listen import ListenError, parse_listen

            try:
                parse_listen(listen)
            except ListenError as exc:
                self.error(("web", "listen"), str(exc))
                listen = None
        auth = table.get("auth", {})
        if not isinstance(auth, dict):
            self.error(("web", "auth"), "must be a table with token_file, token or users")
            return WebSettings(listen)
        self.unknown(auth, ("web", "auth"), _WEB_AUTH_KEYS)
        return WebSettings(
            listen, self.web_token(auth), self.secret_file(auth, ("web", "auth", "token_file")),
            self.web_users(auth),
        )  # fmt: skip

    def web_token(self, auth: Mapping[str, Any]) -> str | None:
        from cyclerctl.credentials import readable_by_others

        token = self.string(auth, ("web", "auth", "token"), required=False)
        if token is None:
            return None
        loose = readable_by_others(self.file)
        if loose is not None:
            self.error(
                ("web", "auth", "token"),
                f"a token here needs {self.file} readable by its owner only, it has {loose}:"
                f" chmod 600 {self.file}, or move it to token_file or $CYCLERCTL_WEB_TOKEN",
            )
            return None
        if len(token) < 16:
            self.error(("web", "auth", "token"), "too short to guess hard: 16 characters or more")
            return None
        return token

    def secret_file(self, table: Mapping[str, Any], at: KeyPath) -> Path | None:
        name = self.string(table, at, required=False)
        if name is None:
            return None
        path = self.file.parent / Path(name).expanduser()
        if not path.is_file():
            self.error(at, f"no such file: {path}")
            return None
        return path

    def web_users(self, auth: Mapping[str, Any]) -> dict[str, str]:
        at: KeyPath = ("web", "auth", "users")
        users = auth.get("users", {})
        if not isinstance(users, dict):
            self.error(at, 'a table of user = "password hash" (cyclerctl web --hash-password)')
            return {}
        found: dict[str, str] = {}
        for name, hashed in users.items():
            if not isinstance(hashed, str) or not hashed.startswith(PASSWORD_HASH_PREFIX):
                self.error(
                    (*at, name),
                    f"must be a password hash ({PASSWORD_HASH_PREFIX}…), never the password:"
                    " make one with `cyclerctl web --hash-password`",
                )
                continue
            if ":" in name or not name.strip():
                self.error((*at, name), "a user name without ':' (HTTP Basic sends user:password)")
                continue
            found[name] = hashed
        return found

    def instruments(self, value: Any) -> tuple[InstrumentConfig, ...]:
        found: list[InstrumentConfig] = []
        names: set[str] = set()
        for i, table in enumerate(self.table_list(value, ("instruments",))):
            instrument = self.instrument(table, ("instruments", i))
            if instrument is None:
                continue
            if instrument.name in names:
                self.error(("instruments", i, "name"), f"{instrument.name!r} is named twice")
            names.add(instrument.name)
            found.append(instrument)
        return tuple(found)

    def instrument(self, table: dict[str, Any], at: KeyPath) -> InstrumentConfig | None:
        self.unknown(table, at, _INSTRUMENT_KEYS)
        name = self.string(table, (*at, "name"))
        driver = self.string(table, (*at, "driver"))
        if name is not None and (":" in name or name != name.strip()):
            self.error((*at, "name"), f"{name!r}: no ':' and no surrounding blanks")
            name = None
        if driver is not None and driver not in INSTRUMENT_DRIVERS:
            known = ", ".join(INSTRUMENT_DRIVERS)
            self.error((*at, "driver"), f"unknown driver {driver!r}; the drivers are: {known}")
            driver = None
        address = self.string(table, (*at, "address"), required=driver not in (None, "sim"))
        options = table.get("options", {})
        if not isinstance(options, dict):
            self.error((*at, "options"), "must be a table of driver options")
            options = {}
        cells = self.cells(table, at) if driver == "sim" else ()
        if driver not in (None, "sim"):
            for key in ("cells", "speed", "realtime"):
                if key in table:
                    self.error((*at, key), "only the sim driver takes it (use options = {…})")
        numbers = self.numbers(table.get("channels"), (*at, "channels"), len(cells) or 1)
        if cells and len(cells) != len(numbers):
            self.error(
                (*at, "cells"),
                f"one cell per channel: {len(numbers)} channel(s) but {len(cells)} cell(s)",
            )
        speed = self._speed(table, at)
        realtime = table.get("realtime", "speed" in table)
        if not isinstance(realtime, bool):
            self.error((*at, "realtime"), f"must be true or false, got {realtime!r}")
            realtime = False
        limits = self.limits(table.get("limits", {}), (*at, "limits"))
        chamber = table.get("chamber")
        if chamber is not None and not isinstance(chamber, str):
            self.error((*at, "chamber"), "must be the name of a [[chambers]] entry")
            chamber = None
        if name is None or driver is None:
            return None
        return InstrumentConfig(
            name, driver, address, dict(options), numbers, cells, speed, realtime, limits, chamber
        )

    def _speed(self, table: dict[str, Any], at: KeyPath) -> float:
        speed = table.get("speed", 1.0)
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not 0 < speed < MAX_SPEED
        ):
            self.error(
                (*at, "speed"),
                f"must be a number > 0 (real time × speed, below {MAX_SPEED:g}), got {speed!r}",
            )
            return 1.0
        return float(speed)

    def numbers(self, value: Any, at: KeyPath, default: int) -> tuple[int, ...]:
        if value is None:
            return tuple(range(1, default + 1))
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_CHANNEL:
                self.error(at, f"must be from 1 to {MAX_CHANNEL}, got {value}")
                return (1,)
            return tuple(range(1, value + 1))
        if isinstance(value, list) and value:
            numbers: list[int] = []
            for k, item in enumerate(value):
                number = int(item) if isinstance(item, str) and item.isdigit() else item
                if (
                    isinstance(number, bool)
                    or not isinstance(number, int)
                    or not 1 <= number <= MAX_CHANNEL
                ):
                    self.error((*at, k), f"a channel number from 1 to {MAX_CHANNEL}, got {item!r}")
                elif number in numbers:
                    self.error((*at, k), f"channel {number} is named twice")
                else:
                    numbers.append(number)
            return tuple(numbers) or (1,)
        self.error(at, f"a count (8) or the channel numbers ([1, 2, 5]), got {value!r}")
        return (1,)

    def cells(self, table: dict[str, Any], at: KeyPath) -> tuple[str, ...]:
        value = table.get("cells")
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            self.error((*at, "cells"), 'a list of cells, one per channel: ["ncm622-coin", …]')
            return ()
        cells: list[str] = []
        for k, spec in enumerate(value):
            if not isinstance(spec, str) or not spec:
                self.error((*at, "cells", k), f"a cell file or library name, got {spec!r}")
                continue
            cells.append(self.cell(spec, (*at, "cells", k)))
        return tuple(cells)

    def cell(self, spec: str, at: KeyPath) -> str:
        """The cell spec, a relative path made relative to the config file; checked to load."""
        from cyclerctl.protocol import ProtocolError, load_cell
        from cyclerctl.protocol.library import is_file

        relative = self.file.parent / spec
        if not Path(spec).is_absolute() and is_file(relative):
            spec = str(relative)
        try:
            load_cell(spec)
        except ProtocolError as exc:
            self.error(at, "; ".join(str(e) for e in exc.errors))
        return spec

    def limits(self, table: Any, at: KeyPath) -> tuple[SafetyLimit, ...]:
        if not isinstance(table, dict):
            self.error(at, 'a table such as { voltage_max = "4.4 V", current_max = "100 mA" }')
            return ()
        self.unknown(table, at, set(LIMIT_KINDS))
        limits: list[SafetyLimit] = []
        examples = {"voltage": "4.4 V", "current": "100 mA", "temperature": "60 degC"}
        for quantity, kind in LIMIT_KINDS.items():
            if quantity not in table:
                continue
            raw, where, hold = table[quantity], (*at, quantity), 0.0
            if isinstance(raw, dict):  # { value = "4.45 V", for = "100 ms" }
                self.unknown(raw, where, {"value", "for"})
                hold_value = self.duration(raw, (*where, "for"), 0.0)
                hold, raw, where = hold_value, raw.get("value"), (*where, "value")
            value = self.quantity(raw, where, kind, examples[kind])
            if value is not None:
                if quantity == "current_max":
                    value = abs(value)
                limits.append(SafetyLimit(quantity, value, hold))  # type: ignore[arg-type]
        low = next((s.value for s in limits if s.quantity == "voltage_min"), None)
        high = next((s.value for s in limits if s.quantity == "voltage_max"), None)
        if low is not None and high is not None and not low < high:
            self.error((*at, "voltage_min"), "must be below voltage_max")
        return tuple(limits)

    def chambers(
        self, value: Any, instruments: tuple[InstrumentConfig, ...]
    ) -> tuple[ChamberConfig, ...]:
        found: list[ChamberConfig] = []
        known = {inst.name for inst in instruments}
        for i, table in enumerate(self.table_list(value, ("chambers",))):
            at: KeyPath = ("chambers", i)
            self.unknown(table, at, _CHAMBER_KEYS)
            name = self.string(table, (*at, "name"))
            driver = self.string(table, (*at, "driver"), required=False) or "chamber"
            address = self.string(table, (*at, "address"))
            options = table.get("options", {})
            if not isinstance(options, dict):
                self.error((*at, "options"), "must be a table of driver options")
                options = {}
            served = table.get("instruments", [])
            if not isinstance(served, list) or not all(isinstance(s, str) for s in served):
                self.error((*at, "instruments"), "a list of instrument names")
                served = []
            for k, inst in enumerate(served):
                if inst not in known:
                    self.error((*at, "instruments", k), f"no [[instruments]] is named {inst!r}")
            if name is not None and address is not None:
                found.append(ChamberConfig(name, driver, address, dict(options), tuple(served)))
        names = {c.name for c in found}
        for i, inst in enumerate(instruments):
            if inst.chamber is not None and inst.chamber not in names:
                at = ("instruments", i, "chamber")
                self.error(at, f"no [[chambers]] is named {inst.chamber!r}")
        return tuple(found)
