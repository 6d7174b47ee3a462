"""``atelier serve``: the whole studio on one machine — embedded Redis (unless one is configured), a worker
process for the gpu and cpu queues, a separate one for the train queue (hours of LoRA training never hold up
an /unmask), and every chat bot that has a token, in one process. The bots share the workers: a job is a job,
whichever platform it came from, and each bot's Deliverer answers only its own platform's jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bots.processes import spawn_worker, stop_on_signals, stop_process
from core.config import Settings

log = logging.getLogger(__name__)

BotRunner = Callable[..., Coroutine[Any, Any, None]]


def configured_bots(settings: Settings) -> dict[str, BotRunner]:
    """The bots whose token is set, by platform (imported lazily: neither library loads unless used)."""
    bots: dict[str, BotRunner] = {}
    if settings.telegram.token is not None:
        from bots.telegram.app import run_bot

        bots["telegram"] = run_bot
    if settings.discord.token is not None:
        from bots.discord.app import run_discord_bot

        bots["discord"] = run_discord_bot
    return bots


async def run_bots(settings: Settings, bots: dict[str, BotRunner], stop: asyncio.Event | None = None) -> None:
    """Every bot until ``stop`` (or SIGINT/SIGTERM). One bot failing stops the others: a half-up studio
    would look healthy while one platform's users get no answer."""
    stop = stop if stop is not None else stop_on_signals()
    log.info("starting bots: %s", ", ".join(bots))
    async with asyncio.TaskGroup() as group:
        for platform, run in bots.items():
            group.create_task(run(settings, stop=stop), name=f"bot-{platform}")


def serve(settings: Settings, *, concurrency: int = 1) -> int:
    from core.imaging.backends.offline.face_prior import licence_notice

    notice = licence_notice(settings.models)
    if notice is not None:
        log.warning(notice)
    bots = configured_bots(settings)
    if not bots:
        log.error(
            "no bot token: set ATELIER_TELEGRAM__TOKEN and/or ATELIER_DISCORD__TOKEN "
            "(see README, Configuration)"
        )
        return 2
    from bots.wiring import wire

    wiring = wire(settings, embedded_redis=True)
    settings = wiring.settings
    assert settings.redis_url
    resent = wiring.studio.enqueue_waiting()
    if resent:
        log.info("handed %d waiting job(s) to the queue again after a restart", resent)
    worker = spawn_worker(settings, settings.redis_url, ["gpu", "cpu"], concurrency)
    trainer = spawn_worker(settings, settings.redis_url, ["train"], 1)
    try:
        asyncio.run(run_bots(settings, bots))
    except KeyboardInterrupt:
        pass
    finally:
        stop_process(trainer)
        stop_process(worker)
        wiring.close()
    return 0
