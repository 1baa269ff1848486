"""``[[notify]]`` entries of the lab config: where a message goes, for which events and channels.

```toml
[[notify]]
url = "mailto://tech@smtp.lab.example:587?to=cycling@lab.example"   # any Apprise URL
on = ["safety_stop", "failed", "instrument_lost"]
channels = ["neware:*"]              # optional: only these channels (glob)
password_file = "smtp.password"      # optional: the URL's password, from an owner-only file
```

A secret in a URL follows the database password's rules (:mod:`cyclerctl.credentials`):

1. in ``url`` itself only when the config file is owner-only (0600);
2. ``password_env = "VAR"``: the URL's password from that environment variable;
3. ``password_file = "path"``: from an owner-only file (relative to the config file),
   read when the daemon or ``cyclerctl notify test`` starts.

:func:`shown` is the one way a URL reaches a message or a log: every secret as ``***``.
This module does not import Apprise (the config is read by every command).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: What a target can be told about, in the lab's words.
EVENTS = ("safety_stop", "failed", "instrument_lost", "store_outage", "stopped", "completed")
#: Query parameters whose value is a secret in the Apprise URLs of common services.
_SECRET_PARAMS = re.compile(r"(pass|token|key|secret|auth|apikey|webhook)", re.IGNORECASE)
_KEYS = {"url", "on", "channels", "password_file", "password_env"}

KeyPath = tuple[str | int, ...]
ErrorSink = Callable[[KeyPath, str], None]


class NotifySecretError(ValueError):
    """A target's secret cannot be read (missing variable, loose or unreadable file)."""


@dataclass(frozen=True, slots=True)
class NotifyTarget:
    """One ``[[notify]]`` entry as written (the secret not yet filled in)."""

    url: str
    on: tuple[str, ...] = EVENTS
    channels: tuple[str, ...] = ()  # globs; empty: every channel
    password_file: Path | None = None
    password_env: str | None = None

    def wants(self, event: str, channels: tuple[str, ...]) -> bool:
        """Is this target told about ``event`` on (any of) ``channels``?

        A notice that names no channel (the database out of reach) goes to every target
        that asked for its event."""
        if event not in self.on:
            return False
        if not self.channels or not channels:
            return True
        return any(fnmatch.fnmatchcase(c, g) for c in channels for g in self.channels)

    @property
    def shown(self) -> str:
        """The URL as a message or a log may show it: ``user:***@`` when it has a password
        (written in it, or from password_file/password_env), every other secret as ``***``."""
        if self.password_file is not None or self.password_env is not None:
            return shown(with_password(self.url, "***", quoted=False))
        return shown(self.url)

    def resolved(self) -> str:
        """The URL to send to, with its password from the environment or its file."""
        password: str | None = None
        if self.password_env is not None:
            password = os.environ.get(self.password_env)
            if password is None:
                raise NotifySecretError(f"notify {self.shown}: ${self.password_env} is not set")
        elif self.password_file is not None:
            from cyclerctl.credentials import CredentialError, read_password_file

            try:
                password = read_password_file(self.password_file)
            except CredentialError as exc:
                raise NotifySecretError(f"notify {self.shown}: {exc}") from None
        return self.url if password is None else with_password(self.url, password)

    def secrets(self) -> tuple[str, ...]:
        """Every secret the resolved URL holds, for :func:`redact` (none if unreadable)."""
        try:
            return url_secrets(self.resolved())
        except NotifySecretError:
            return url_secrets(self.url)


def url_secrets(url: str) -> tuple[str, ...]:
    """The password of ``url`` and the values of its secret-looking query parameters."""
    parts = urlsplit(url)
    found = []
    try:
        password = parts.password
    except ValueError:
        password = None
    if password:
        found.append(password)
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if _SECRET_PARAMS.search(name) and value:
            found.append(value)
    return tuple(found)


def has_secret(url: str) -> bool:
    return bool(url_secrets(url))


def with_password(url: str, password: str, *, quoted: bool = True) -> str:
    """``url`` with ``password`` as its userinfo password (the user name kept)."""
    from urllib.parse import quote

    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    secret = quote(password, safe="") if quoted else password
    userinfo = f"{quote(user, safe='')}:{secret}@"
    return parts._replace(netloc=userinfo + netloc).geturl()


def shown(url: str) -> str:
    """``url`` with every secret as ``***`` (the way a URL reaches a message or a log)."""
    return redact(url, url_secrets(url))


def redact(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` with each of ``secrets`` (raw or %-quoted) replaced by ``***``."""
    from urllib.parse import quote

    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) < 3:  # too short to replace without mangling the text; still a secret
            continue
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


def read_targets(value: Any, file: Path, error: ErrorSink) -> tuple[NotifyTarget, ...]:
    """The ``[[notify]]`` array of ``file``; each problem goes to ``error`` with its key path."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        error(("notify",), 'must be an array of tables ([[notify]] with url = "…")')
        return ()
    found = []
    for i, table in enumerate(value):
        target = _target(table, ("notify", i), file, error)
        if target is not None:
            found.append(target)
    return tuple(found)


def _target(
    table: Mapping[str, Any], at: KeyPath, file: Path, error: ErrorSink
) -> NotifyTarget | None:
    from cyclerctl.credentials import readable_by_others

    for key in table:
        if key not in _KEYS:
            error((*at, key), f"unknown field; the fields are: {', '.join(sorted(_KEYS))}")
    url = table.get("url")
    if not isinstance(url, str) or "://" not in url:
        error((*at, "url"), f'an Apprise URL such as "mailto://…" or "ntfy://…", got {url!r}')
        return None
    ok = True
    on = _strings(table.get("on", list(EVENTS)), (*at, "on"), error)
    for k, event in enumerate(on):
        if event not in EVENTS:
            error((*at, "on", k), f"unknown event {event!r}; the events are: {', '.join(EVENTS)}")
            ok = False
    if not on:
        error((*at, "on"), f"name at least one event: {', '.join(EVENTS)}")
        ok = False
    channels = _strings(table.get("channels", []), (*at, "channels"), error)
    password_env = table.get("password_env")
    if password_env is not None and (not isinstance(password_env, str) or not password_env):
        error((*at, "password_env"), f"the name of an environment variable, got {password_env!r}")
        ok = False
    password_file: Path | None = None
    name = table.get("password_file")
    if name is not None:
        if not isinstance(name, str) or not name:
            error((*at, "password_file"), f"a file name, got {name!r}")
            ok = False
        else:
            password_file = file.parent / Path(name).expanduser()
            if not password_file.is_file():
                error((*at, "password_file"), f"no such file: {password_file}")
                ok = False
    if has_secret(url):
        if password_file is not None or password_env is not None:
            error((*at, "url"), "carries a password already; drop password_file/password_env")
            ok = False
        loose = readable_by_others(file)
        if loose is not None:
            error(
                (*at, "url"),
                f"carries a secret, but {file} can be read by others ({loose}): chmod 600 "
                f"{file}, or move the password to password_file or password_env",
            )
            ok = False
    if not ok:
        return None
    return NotifyTarget(url, tuple(on), tuple(channels), password_file, password_env)


def _strings(value: Any, at: KeyPath, error: ErrorSink) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        error(at, f"a list of strings, got {value!r}")
        return []
    return list(value)
