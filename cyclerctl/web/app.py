"""The ASGI app: GET routes only, every one behind the login when [web.auth] is set.

Live overview: one poller per server reads the overview (LabData.overview: small status
tables, never samples) every POLL_S while someone watches, and pushes the rows that changed
to every open page as server-sent events — so a change is on screen within POLL_S of its
commit plus the time to send it, and 100 open pages cost one query, not 100.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import anyio.to_thread
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from cyclerctl.web import pages
from cyclerctl.web.auth import COOKIE, WebAuth
from cyclerctl.web.data import HistoryQuery, WebData, channel_json

POLL_S = 0.25  # the overview poll while a page is open: ≤ 1 s behind the database
KEEPALIVE_S = 15.0
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
]


def plotly_bundle() -> Path:
    """plotly.min.js as the ``plotly`` wheel ships it (package_data), served as is."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the plotly package ships no plotly.min.js")
    return path


class AuthMiddleware:
    """Refuses every request without a valid login (401) when auth is enabled; adds the
    security headers to every answer; only GET and HEAD reach the app."""

    def __init__(self, app: ASGIApp, auth: WebAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        request = Request(scope)
        if request.method not in ("GET", "HEAD"):
            response: Response = PlainTextResponse(
                "read-only: only GET and HEAD", status_code=405, headers={"Allow": "GET, HEAD"}
            )
            await response(scope, receive, send_with_headers)
            return
        if not self.auth.enabled and not _loopback_host(request.headers.get("host", "")):
            # without a login the server listens on loopback only; a page elsewhere could
            # still point a name of its own at 127.0.0.1 (DNS rebinding) and read the lab
            # through the visitor's browser: such a request names a foreign Host
            response = PlainTextResponse("403: this server answers only to this PC's names", 403)
            await response(scope, receive, send_with_headers)
            return
        if self.auth.enabled:
            offered = request.query_params.get("token")
            if offered is not None and self.auth.token_ok(offered):
                # a browser's first visit with ?token=…: keep a cookie, drop it from the URL
                rest = [
                    (k, v)
                    for k, v in parse_qsl(scope.get("query_string", b"").decode())
                    if k != "token"
                ]
                target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(
                    COOKIE,
                    self.auth.cookie_value(),
                    httponly=True,
                    samesite="strict",
                    secure=request.url.scheme == "https",
                )
                await response(scope, receive, send_with_headers)
                return
            who = self.auth.allows(
                request.headers.get("authorization"), request.cookies.get(COOKIE)
            )
            if who is None:
                headers = {}
                if self.auth.users:
                    headers["WWW-Authenticate"] = 'Basic realm="cyclerctl", charset="UTF-8"'
                response = PlainTextResponse(
                    "401: log in (a user and password, or open the address with ?token=…)",
                    status_code=401,
                    headers=headers,
                )
                await response(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)


def _loopback_host(host: str) -> bool:
    """``Host: 127.0.0.1:8765``, ``localhost``, ``[::1]:8765`` …"""
    from cyclerctl.web.listen import is_loopback

    name = host.rsplit("]", 1)[0].lstrip("[") if host.startswith("[") else host.rsplit(":", 1)[0]
    return is_loopback(name)


class OverviewFeed:
    """One poller, many listeners: each gets the rows that changed since its last message."""

    def __init__(self, data: WebData, poll_s: float = POLL_S) -> None:
        self.data = data
        self.poll_s = poll_s
        self.listeners: set[asyncio.Queue[str]] = set()
        self.rows: dict[str, dict[str, Any]] = {}
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def subscribe(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
        self.listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            rows = await anyio.to_thread.run_sync(self._read)
            yield json.dumps({"full": True, "rows": list(rows.values())}, default=str)
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ""
        finally:
            self.listeners.discard(queue)

    def _read(self) -> dict[str, dict[str, Any]]:
        return {row.channel: channel_json(row) for row in self.data.overview()}

    async def _poll(self) -> None:
        while self.listeners:
            try:
                rows = await anyio.to_thread.run_sync(self._read)
                error = None
            except Exception as exc:  # a database gone or locked: say so, keep polling
                rows, error = self.rows, f"database: {exc}"
            changed = [row for name, row in rows.items() if self.rows.get(name) != row]
            gone = [name for name in self.rows if name not in rows]
            self.rows = rows
            if changed or gone or error != self.error:
                self.error = error
                message = json.dumps({"rows": changed, "gone": gone, "error": error}, default=str)
                for queue in list(self.listeners):
                    with contextlib.suppress(asyncio.QueueFull):  # a stuck client misses one
                        queue.put_nowait(message)
            await asyncio.sleep(self.poll_s)


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value))) if value is not None else default
    except ValueError:
        return default


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and abs(number) < 1e300 else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _run_id(request: Request) -> int:
    return int(request.path_params["run_id"])


def create_app(data: WebData, auth: WebAuth | None = None, *, poll_s: float = POLL_S) -> Starlette:
    """The app over a read model; ``auth`` None or disabled: no login (loopback only)."""
    feed = OverviewFeed(data, poll_s)

    async def thread(call: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(call)

    async def overview(request: Request) -> Response:
        rows = await thread(data.overview)
        state = request.query_params.get("state", "")
        text = request.query_params.get("q", "")
        return HTMLResponse(pages.overview_page(rows, state, text))

    async def overview_json(request: Request) -> Response:
        rows = await thread(data.overview)
        return JSONResponse([channel_json(r) for r in rows])

    async def overview_events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            async for message in feed.subscribe():
                yield f"data: {message}\n\n" if message else ": keepalive\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def run_page(request: Request) -> Response:
        page = await thread(lambda: data.run_page(_run_id(request)))
        if page is None:
            return HTMLResponse(pages.not_found(f"no run {_run_id(request)}"), status_code=404)
        return HTMLResponse(pages.run_page(page))

    async def run_json(request: Request) -> Response:
        run = await thread(lambda: data.run(_run_id(request)))
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(run.as_dict())

    async def plot(request: Request) -> Response:
        q = request.query_params
        result = await thread(
            lambda: data.plot(
                _run_id(request),
                t0=_float(q.get("t0")),
                t1=_float(q.get("t1")),
                width=_int(q.get("width"), 1000, 1, 100_000),
            )
        )
        return Response(result.as_json(), media_type="application/json")

    async def impedance(request: Request) -> Response:
        return JSONResponse(await thread(lambda: data.impedance(_run_id(request))))

    async def dqdv(request: Request) -> Response:
        run_id = _run_id(request)
        asked = request.query_params.get("cycles")

        def compute() -> Any:
            cycles = (
                [int(c) for c in asked.split(",") if c.strip().isdigit()]
                if asked
                else data.chosen_cycles(run_id)
            )
            if not cycles:
                return {"curves": [], "note": "no cycles"}
            try:
                return {"curves": data.differential_capacity(run_id, cycles[:8])}
            except (KeyError, ValueError) as exc:
                return {"curves": [], "note": str(exc)}

        return JSONResponse(await thread(compute))

    async def results(request: Request) -> Response:
        found = await thread(lambda: data.results(_run_id(request)))
        body = json.dumps({name: asdict(r) for name, r in found.items()}, default=str)
        return Response(body, media_type="application/json")

    async def export(request: Request) -> Response:
        from cyclerctl.export import FORMATS, export_run

        run_id, fmt = _run_id(request), request.path_params["fmt"]
        if fmt not in FORMATS:
            return PlainTextResponse(f"unknown format; known: {', '.join(FORMATS)}", 404)
        suffix = {
            "csv": ".csv",
            "mpt": ".mpt",
            "parquet": ".parquet",
            "cycles-csv": ".csv",
            "cycles-parquet": ".parquet",
        }[fmt]
        folder = Path(tempfile.mkdtemp(prefix="cyclerctl-web-"))
        name = f"run-{run_id}{'-cycles' if fmt.startswith('cycles') else ''}{suffix}"
        try:
            path = await thread(lambda: export_run(data.store, run_id, fmt, folder / name))
        except (KeyError, ValueError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            return PlainTextResponse(str(exc), status_code=404)
        return FileResponse(
            path, filename=name, background=BackgroundTask(shutil.rmtree, folder, True)
        )

    async def report(request: Request) -> Response:
        from cyclerctl.report import write_report

        run_id = _run_id(request)
        folder = Path(tempfile.mkdtemp(prefix="cyclerctl-web-"))

        def build() -> Path:
            write_report(data.store, run_id, folder / "report")
            archive = folder / f"run-{run_id}-report.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in sorted((folder / "report").rglob("*")):
                    zf.write(file, f"run-{run_id}-report/{file.relative_to(folder / 'report')}")
            return archive

        try:
            archive = await thread(build)
        except KeyError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            return PlainTextResponse(str(exc), status_code=404)
        return FileResponse(
            archive, filename=archive.name, background=BackgroundTask(shutil.rmtree, folder, True)
        )

    async def history(request: Request) -> Response:
        q = request.query_params
        query = HistoryQuery(
            protocol=q.get("protocol", ""),
            cell=q.get("cell", ""),
            operator=q.get("operator", ""),
            end_reason=q.get("end_reason", ""),
            date_from=_date(q.get("from")),
            date_to=_date(q.get("to")),
            page=_int(q.get("page"), 1, 1, 10**6),
        )
        found = await thread(lambda: data.history(query))
        return HTMLResponse(pages.history_page(found, query))

    async def plotly_js(request: Request) -> Response:
        return FileResponse(
            plotly_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    routes = [
        Route("/", overview),
        Route("/api/overview", overview_json),
        Route("/events/overview", overview_events),
        Route("/runs/{run_id:int}", run_page),
        Route("/api/runs/{run_id:int}", run_json),
        Route("/api/runs/{run_id:int}/plot", plot),
        Route("/api/runs/{run_id:int}/impedance", impedance),
        Route("/api/runs/{run_id:int}/dqdv", dqdv),
        Route("/api/runs/{run_id:int}/results", results),
        Route("/runs/{run_id:int}/export/{fmt}", export),
        Route("/runs/{run_id:int}/report.zip", report),
        Route("/history", history),
        Route("/static/plotly.min.js", plotly_js),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(AuthMiddleware, auth=auth or WebAuth()),
            Middleware(GZipMiddleware, minimum_size=1000),
        ],
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.feed = feed
    return app
