"""Open the database read-only, check the address, run uvicorn."""

from __future__ import annotations

import sys
from typing import Any

from cyclerctl.config import Config
from cyclerctl.credentials import shown
from cyclerctl.web.auth import AuthError, WebAuth
from cyclerctl.web.listen import DEFAULT_LISTEN, ListenError, check_exposure, parse_listen


def open_app(config: Config, db_url: str, *, poll_s: float | None = None) -> Any:
    """The ASGI app over ``db_url`` opened read-only (the TUI's --read-only URL: SQLite
    ``mode=ro``, PostgreSQL read-only transactions)."""
    from cyclerctl.store import Store
    from cyclerctl.tui.app import read_only_url
    from cyclerctl.web.app import POLL_S, create_app
    from cyclerctl.web.data import WebData

    auth = WebAuth.from_settings(config.web)
    store = Store.open(read_only_url(db_url))
    app = create_app(WebData(store, config), auth, poll_s=poll_s or POLL_S)
    app.state.store = store
    return app


def serve(
    config: Config,
    db_url: str,
    listen: str | None = None,
    *,
    log_level: str = "warning",
    poll_s: float | None = None,
) -> int:
    """``cyclerctl web``: 0 after Ctrl-C, 2 on a bad address, login setup or database."""
    import uvicorn

    try:
        host, port = parse_listen(listen or config.web.listen or DEFAULT_LISTEN)
        auth = WebAuth.from_settings(config.web)
        check_exposure(host, port, auth_configured=auth.enabled)
    except (ListenError, AuthError) as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        app = open_app(config, db_url, poll_s=poll_s)
    except Exception as exc:  # SQLAlchemy's errors for a bad URL or an unreadable file
        print(f"--db: cannot open database {shown(db_url)!r}: {exc}", file=sys.stderr)
        return 2
    shown_host = f"[{host}]" if ":" in host else host
    login = "login required" if auth.enabled else "no login: this PC only"
    print(
        f"cyclerctl web: http://{shown_host}:{port}/ (read-only, {login}); Ctrl-C stops",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=2)
    finally:
        app.state.store.close()
    return 0
