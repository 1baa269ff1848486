"""`cyclerctl web`: the lab in a browser, read-only (issue 19; DESIGN.md "Who uses it").

A client of the database only, like the TUI (no engine, no driver): Starlette pages
rendered on the server, live through server-sent events, plots drawn by plotly.js from the
``plotly`` wheel. Binds 127.0.0.1 unless [web.auth] is set (see listen, auth).

The web libraries are an optional extra (``pip install 'cyclerctl[web]'``); importing
this package needs none of them, :func:`serve` says which one is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cyclerctl.web.listen import DEFAULT_LISTEN, ListenError, check_exposure, parse_listen

if TYPE_CHECKING:
    from cyclerctl.config import Config

__all__ = [
    "DEFAULT_LISTEN",
    "ListenError",
    "MissingExtra",
    "check_exposure",
    "parse_listen",
    "require_extra",
    "serve",
]

EXTRA_MODULES = ("starlette", "uvicorn", "plotly")


class MissingExtra(RuntimeError):
    """A library of the ``web`` extra is not installed; the message names the fix."""


def require_extra() -> None:
    import importlib.util

    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"cyclerctl web needs {', '.join(missing)}: pip install 'cyclerctl[web]'"
        )


def serve(config: Config, db_url: str, listen: str | None = None, **options: Any) -> int:
    """Run the server until interrupted; see :func:`cyclerctl.web.server.serve`."""
    require_extra()
    from cyclerctl.web.server import serve as run

    return run(config, db_url, listen, **options)
