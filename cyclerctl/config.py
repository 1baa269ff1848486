"""The lab's config file (see config.example.toml) and where the database is.

Precedence for the database URL: ``--db`` on the command line, then the environment
variable ``CYCLERCTL_DB``, then ``[database] url`` in the config file, then
``sqlite:///cyclerctl.db`` in the current directory. The config file is ``--config PATH``,
else ``CYCLERCTL_CONFIG``, else ``./cyclerctl.toml`` when it exists.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB = "sqlite:///cyclerctl.db"


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    database_url: str | None = None
    operator: str | None = None


def load_config(path: str | None) -> Config:
    chosen = path or os.environ.get("CYCLERCTL_CONFIG")
    if chosen is None:
        default = Path("cyclerctl.toml")
        if not default.is_file():
            return Config()
        chosen = str(default)
    file = Path(chosen)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}:{getattr(exc, 'lineno', '?')}: {exc}") from None
    database = data.get("database", {})
    if not isinstance(database, dict):
        raise ConfigError(f"{file}: database: must be a table with `url`")
    url = database.get("url")
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"{file}: database.url: must be a string such as 'sqlite:///runs.db'")
    operator = data.get("operator")
    if operator is not None and not isinstance(operator, str):
        raise ConfigError(f"{file}: operator: must be a string")
    return Config(path=file, database_url=url, operator=operator)


def database_url(cli_value: str | None, config: Config) -> str:
    return cli_value or os.environ.get("CYCLERCTL_DB") or config.database_url or DEFAULT_DB


def default_operator(cli_value: str | None, config: Config) -> str:
    return (
        cli_value
        or config.operator
        or os.environ.get("CYCLERCTL_OPERATOR")
        or os.environ.get("USER")
        or "unknown"
    )
