"""The health dashboard's web server (Starlette on uvicorn, its own port): sign-in with the users
file, a server-side session behind an HttpOnly SameSite=Strict cookie, the page, static JS."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from coordinator.dashboard_config import LANGUAGES, DashboardSettings
from coordinator.dashboard_data import Collector
from coordinator.dashboard_page import render_dashboard, render_sign_in
from coordinator.dashboard_users import check_password, hash_password, load_users
from runtime.config_file import ConfigError

log = logging.getLogger("gongying.dashboard")

COOKIE = "gongying_session"
STATIC = Path(__file__).parent / "dashboard_static"
MAX_FAILURES, LOCKOUT_SECONDS, MAX_TRACKED = 5, 300.0, 10_000
MAX_FORM_BYTES = 4096
HEADERS = {
    # vega compiles its expressions with Function(): 'unsafe-eval'; no inline script anywhere
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_DUMMY_HASH = hash_password("not a password anyone has")


@dataclass
class _Session:
    user: str
    expires: float


class Sessions:
    """Signed-in sessions by random token, and failed sign-ins per user name (locked out for
    LOCKOUT_SECONDS after MAX_FAILURES in a row)."""

    def __init__(self, minutes: int) -> None:
        self.lifetime = minutes * 60.0
        self._sessions: dict[str, _Session] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def open(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for old in [t for t, s in self._sessions.items() if s.expires < now]:
                del self._sessions[old]
            self._sessions[token] = _Session(user, now + self.lifetime)
            self._failures.pop(user, None)
        return token

    def user(self, token: str | None) -> str | None:
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None or session.expires < time.monotonic():
                self._sessions.pop(token or "", None)
                return None
            return session.user

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def locked(self, user: str) -> bool:
        with self._lock:
            failures, since = self._failures.get(user, (0, 0.0))
            if failures >= MAX_FAILURES and time.monotonic() - since < LOCKOUT_SECONDS:
                return True
            if failures >= MAX_FAILURES:
                self._failures.pop(user, None)
            return False

    def failed(self, user: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > MAX_TRACKED:  # names tried at random: forget the stale ones
                stale = [n for n, (_, t) in self._failures.items() if now - t > LOCKOUT_SECONDS]
                for name in stale:
                    del self._failures[name]
            failures, _ = self._failures.get(user, (0, 0.0))
            self._failures[user] = (failures + 1, now)


def make_app(
    settings: DashboardSettings, collector: Collector, clock: Callable[[], datetime]
) -> Starlette:
    """The dashboard's ASGI application."""
    sessions = Sessions(settings.session_minutes)
    secure = settings.cert is not None

    def lang_of(request: Request) -> str:
        lang = request.query_params.get("lang", settings.lang)
        return lang if lang in LANGUAGES else settings.lang

    def page(html: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def sign_in_form(request: Request) -> Response:
        return page(render_sign_in(lang_of(request)))

    async def sign_in(request: Request) -> Response:
        lang = lang_of(request)
        body = await request.body()
        form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
        user = form.get("user", [""])[0]
        password = form.get("password", [""])[0]
        client = request.client.host if request.client else "?"
        if sessions.locked(user):
            log.warning("dashboard sign-in refused (locked out): user %r from %s", user, client)
            return page(render_sign_in(lang, "locked"), 429)
        try:
            users = await run_in_threadpool(load_users, settings.users)  # edits apply at once
        except ConfigError as error:
            log.error("dashboard sign-in impossible: %s", error)
            return page(render_sign_in(lang, "users_unavailable"), 503)
        stored = users.get(user, _DUMMY_HASH)
        valid = await run_in_threadpool(check_password, password, stored)
        if not valid or user not in users:
            sessions.failed(user)
            log.warning("dashboard sign-in refused: user %r from %s", user, client)
            return page(render_sign_in(lang, "refused_sign_in"), 401)
        log.info("dashboard sign-in: user %r from %s", user, client)
        response = RedirectResponse(f"/?lang={lang}", status_code=303, headers=HEADERS)
        response.set_cookie(
            COOKIE,
            sessions.open(user),
            max_age=settings.session_minutes * 60,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    async def sign_out(request: Request) -> Response:
        sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE)
        return response

    async def dashboard(request: Request) -> Response:
        lang = lang_of(request)
        user = sessions.user(request.cookies.get(COOKIE))
        if user is None:
            return RedirectResponse(f"/login?lang={lang}", status_code=303, headers=HEADERS)
        snapshot = await run_in_threadpool(collector.snapshot, clock())
        return page(render_dashboard(snapshot, lang, user))

    return Starlette(
        routes=[
            Route("/", dashboard, methods=["GET"]),
            Route("/login", sign_in_form, methods=["GET"]),
            Route("/login", sign_in, methods=["POST"]),
            Route("/logout", sign_out, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


class DashboardServer:
    """uvicorn serving the dashboard in a background thread on `settings.listen`."""

    def __init__(
        self, settings: DashboardSettings, collector: Collector, clock: Callable[[], datetime]
    ) -> None:
        host, _, port = settings.listen.rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, int(port)))
        self.host, self.port = host, self._socket.getsockname()[1]
        config = uvicorn.Config(
            make_app(settings, collector, clock),
            log_level="warning",
            ssl_certfile=str(settings.cert) if settings.cert else None,
            ssl_keyfile=str(settings.key) if settings.key else None,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start within 10 s")
            time.sleep(0.02)
        if (
            settings.cert is None
            and not ipaddress.ip_address(
                socket.gethostbyname(host) if family == socket.AF_INET else host
            ).is_loopback
        ):
            log.warning(
                "the dashboard serves plain HTTP on %s: give [dashboard] cert and key for HTTPS "
                "or listen on 127.0.0.1 behind a TLS proxy",
                settings.listen,
            )
        scheme = "https" if settings.cert else "http"
        self.url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
