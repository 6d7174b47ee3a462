"""The canvas's aiohttp application (``build_web_app``) and its process side (``run_web``: served by the bot
process, ``atelier serve``, behind the operator's HTTPS reverse proxy; docs/web-canvas.md)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack

from aiohttp import web
from pydantic import SecretStr

from bots.web.announce import Announcer
from bots.web.canvas import Canvas
from bots.web.form import FORM_OVERHEAD
from bots.web.ops import BotsRunning, ops_routes
from core.config import Settings
from core.studio.service import Studio

log = logging.getLogger(__name__)

# The page loads nothing but its own files and talks only to this server; Telegram's clients frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the page's address carries a signed link
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def build_web_app(
    studio: Studio, announcers: Mapping[str, Announcer] | None = None, *, bots: BotsRunning | None = None
) -> web.Application:
    """``GET /sketch`` (the page), ``POST /sketch`` (a drawing), ``GET /sketch/jobs/{id}`` (its state),
    ``GET /sketch/jobs/{id}/result`` (the face), ``GET /sketch/static/{name}`` (its script and style);
    ``GET /metrics`` and ``GET /healthz`` (``bots.web.ops``)."""
    canvas = Canvas(studio, announcers or {})
    # aiohttp's own body cap, for any reader besides the canvas's capped multipart reader.
    app = web.Application(
        client_max_size=studio.settings.intake.max_bytes + FORM_OVERHEAD, middlewares=[security_headers]
    )
    app.router.add_get("/sketch", canvas.page)
    app.router.add_post("/sketch", canvas.submit)
    app.router.add_get("/sketch/jobs/{job_id}", canvas.job)
    app.router.add_get("/sketch/jobs/{job_id}/result", canvas.result)
    app.router.add_get("/sketch/static/{name}", canvas.asset)
    app.add_routes(ops_routes(studio, bots))
    return app


def with_web_secret(settings: Settings) -> Settings:
    """``settings`` with a canvas link secret: the configured one, or one made for this run (with a warning:
    links then stop working at a restart, and bot processes on other hosts could not read them)."""
    if settings.web.secret is not None:
        return settings
    log.warning(
        "ATELIER_WEB__SECRET is unset: canvas links are signed with a secret made for this run and stop "
        "working when it restarts; set it (e.g. `openssl rand -hex 32`) to keep them"
    )
    web_settings = settings.web.model_copy(update={"secret": SecretStr(secrets.token_hex(32))})
    return settings.model_copy(update={"web": web_settings})


async def run_web(
    settings: Settings, *, stop: asyncio.Event, studio: Studio, bots: BotsRunning | None = None
) -> None:
    """Serve the canvas on ``settings.web.host:port`` until ``stop``."""
    async with AsyncExitStack() as exits:
        announcers: dict[str, Announcer] = {}
        if settings.telegram.token is not None:
            from telegram import Bot

            from bots.web.announce import TelegramAnnouncer

            api_url = settings.telegram.api_url.rstrip("/")
            bot = Bot(
                settings.telegram.token.get_secret_value(),
                base_url=f"{api_url}/bot",
                base_file_url=f"{api_url}/file/bot",
            )
            telegram = TelegramAnnouncer(bot)
            exits.push_async_callback(telegram.close)
            announcers["telegram"] = telegram
        # No access log: the page's address carries a signed link (the reverse proxy logs requests).
        runner = web.AppRunner(build_web_app(studio, announcers, bots=bots), access_log=None)
        await runner.setup()
        exits.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.web.host, settings.web.port)
        await site.start()
        public = settings.web.public_url or "unset (ATELIER_WEB__PUBLIC_URL)"
        log.info("sketch canvas listening on %s, public address %s", _bound(runner), public)
        await stop.wait()


def _bound(runner: web.AppRunner) -> str:
    addresses = [f"http://{a[0]}:{a[1]}/sketch" for a in runner.addresses if isinstance(a, tuple)]
    return ", ".join(addresses) or "?"
