"""Who may read the pages when ``cyclerctl web`` listens beyond this PC.

Two kinds of login, either or both (``[web.auth]`` in the config, see config.WebSettings):

- a shared **token**: sent as ``Authorization: Bearer TOKEN``, or once as ``?token=TOKEN``
  in a browser, which then keeps a cookie (an HMAC of the token, never the token itself);
- **users** with passwords, sent by the browser as HTTP Basic; the config holds only
  PBKDF2-SHA256 hashes written by :func:`hash_password`.

The token comes, like the database password (:mod:`cyclerctl.credentials`), from the
environment (``$CYCLERCTL_WEB_TOKEN``), from an owner-only ``token_file``, or from the
config only when that file is owner-only. Every comparison is constant-time.

PBKDF2 with 600 000 iterations is the OWASP Password Storage Cheat Sheet's figure for
PBKDF2-HMAC-SHA256; the ``pbkdf2_sha256$ITER$SALT$HASH`` layout is Django's. Checking a
hash takes a large fraction of a second by design, so a verified Basic header is
remembered (by its SHA-256) for the life of the process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cyclerctl.config import PASSWORD_HASH_PREFIX, WebSettings
from cyclerctl.credentials import read_password_file

TOKEN_VARIABLE = "CYCLERCTL_WEB_TOKEN"
ITERATIONS = 600_000
COOKIE = "cyclerctl_session"
_COOKIE_LABEL = b"cyclerctl-web-session-v1"
_REMEMBERED = 1024  # verified Basic headers kept


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$600000$SALT$HASH`` (base64) for ``[web.auth] users``."""
    if not password:
        raise ValueError("an empty password")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"{PASSWORD_HASH_PREFIX}{iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, iterations, salt, digest = hashed.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, expected)


class AuthError(ValueError):
    """The [web.auth] secrets cannot be read; the message says why."""


@dataclass
class WebAuth:
    """The logins the server accepts; ``enabled`` False: everyone (loopback only)."""

    token: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    _verified: dict[bytes, str] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.token is not None or bool(self.users)

    @classmethod
    def from_settings(cls, web: WebSettings) -> WebAuth:
        token = os.environ.get(TOKEN_VARIABLE) or web.token
        if token is None and web.token_file is not None:
            try:
                token = read_password_file(web.token_file)
            except ValueError as exc:
                raise AuthError(f"[web.auth] token_file: {exc}") from None
        if token is not None and len(token) < 16:
            raise AuthError("[web.auth] token: too short to guess hard: 16 characters or more")
        return cls(token, dict(web.users))

    def cookie_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), _COOKIE_LABEL, hashlib.sha256).hexdigest()

    def token_ok(self, offered: str) -> bool:
        if self.token is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def allows(self, authorization: str | None, cookie: str | None) -> str | None:
        """Who is logged in (a user name, or ``"token"``), or None."""
        if not self.enabled:
            return "anyone"
        if (
            cookie is not None
            and self.token is not None
            and hmac.compare_digest(cookie.encode(), self.cookie_value().encode())
        ):
            return "token"
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return "token" if self.token_ok(value.strip()) else None
        if scheme.lower() == "basic" and self.users:
            return self._basic(value.strip())
        return None

    def _basic(self, value: str) -> str | None:
        key = hashlib.sha256(value.encode()).digest()
        if key in self._verified:
            return self._verified[key]
        try:
            user, colon, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        hashed = self.users.get(user)
        if not colon or hashed is None or not verify_password(password, hashed):
            return None
        if len(self._verified) >= _REMEMBERED:
            self._verified.clear()
        self._verified[key] = user
        return user


def main() -> int:
    """``python -m cyclerctl.web.auth``: ask for a password, print its hash."""
    import getpass
    import sys

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\n")
    if sys.stdin.isatty() and getpass.getpass("again: ") != password:
        print("the two passwords differ", file=sys.stderr)
        return 2
    if not password:
        print("an empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
