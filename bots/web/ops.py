"""``/metrics`` and ``/healthz`` of the bot process, on the canvas's web port.

``/metrics``: this process's counters (``core.metrics``) and, read at each scrape, the queue depth from the
job database and the workers that answer a Celery ping (cached 15 s: a ping waits for replies).
``/healthz``: 200 when Redis answers PING, the database ``SELECT 1`` and every configured bot runs; 503 with
the reasons as JSON otherwise. The reverse proxy in front of the canvas should forward only ``/sketch``:
these two are for the operator's Prometheus and orchestrator, on the internal network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from aiohttp import web

from core.health import Check, database_check, probe, redis_check
from core.metrics import CONTENT_TYPE, StudioCollector, render
from core.studio.service import Studio

# Which bots run now, by platform (``bots.serve``); None where this process runs no bots.
BotsRunning = Callable[[], Mapping[str, bool]]


def ops_routes(studio: Studio, bots: BotsRunning | None = None) -> list[web.RouteDef]:
    collector = StudioCollector(studio.store.queue_depths, getattr(studio.queue, "workers", None))
    checks: dict[str, Check] = {"database": database_check(studio.store.engine)}
    redis_url = studio.settings.redis_url
    checks["redis"] = redis_check(redis_url) if redis_url else _unconfigured_redis
    if bots is not None:
        checks["bots"] = lambda: _all_running(bots())

    async def metrics(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(render, collector)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def healthz(_: web.Request) -> web.Response:
        health = await asyncio.to_thread(probe, checks)
        return web.json_response(health.as_json(), status=200 if health.ok else 503)

    return [web.get("/metrics", metrics), web.get("/healthz", healthz)]


def _all_running(bots: Mapping[str, bool]) -> None:
    stopped = sorted(name for name, running in bots.items() if not running)
    if stopped:
        raise RuntimeError(f"not running: {', '.join(stopped)}")


def _unconfigured_redis() -> None:
    raise RuntimeError("no Redis configured (ATELIER_REDIS_URL)")
