"""``--listen HOST:PORT``: parsed, and refused on a network address unless auth is set.

Kept free of any web library so the config reader and the CLI can check an address
without the ``web`` extra installed.
"""

from __future__ import annotations

import ipaddress

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_LISTEN = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


class ListenError(ValueError):
    """A --listen value that cannot be used; the message says what is allowed."""


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8765"``, ``"[::1]:8765"``, ``"localhost:80"``, ``":8765"`` (the
    default host) or ``"8765"`` → (host, port)."""
    value = text.strip()
    if not value:
        raise ListenError("--listen: give HOST:PORT, e.g. 127.0.0.1:8765")
    if value.isdigit():
        host, port_text = DEFAULT_HOST, value
    elif value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ListenError(f"--listen {text!r}: an IPv6 address is written [ADDR]:PORT")
        host, port_text = inside, rest[1:]
    else:
        host, colon, port_text = value.rpartition(":")
        if not colon:
            raise ListenError(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8765")
        if ":" in host:
            raise ListenError(f"--listen {text!r}: write an IPv6 address as [ADDR]:PORT")
        host = host or DEFAULT_HOST
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ListenError(f"--listen {text!r}: the port must be a number from 1 to 65535")
    if any(c.isspace() for c in host) or not host:
        raise ListenError(f"--listen {text!r}: not a host name or address")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Only this PC can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_exposure(host: str, port: int, *, auth_configured: bool) -> None:
    """ListenError when the pages would be open to the network without a login."""
    if is_loopback(host) or auth_configured:
        return
    shown = f"[{host}]" if ":" in host else host
    raise ListenError(
        f"--listen {shown}:{port}: refused: other computers could read the lab's data "
        "without logging in. Set [web.auth] in the config (token_file, or users with "
        "password hashes from `cyclerctl web --hash-password`), or listen on 127.0.0.1"
    )
