"""``atelier serve``: the whole studio on one machine — embedded Redis (unless one is configured), a worker
process for the gpu and cpu queues, a separate one for the train queue (hours of LoRA training never hold up
an /unmask), every chat bot that has a token, and the /sketch drawing canvas (``bots.web``, on
``ATELIER_WEB__PORT``), in one process. The bots share the workers: a job is a job, whichever platform it came
from, and each bot's Deliverer answers only its own platform's jobs."""

from __future__ import annotations

import asyncio
import functools
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


class RunningBots:
    """Whether each bot's task still runs, by platform (the bot process's ``/healthz``)."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def __call__(self) -> dict[str, bool]:
        return {platform: not task.done() for platform, task in self.tasks.items()}


async def run_bots(
    settings: Settings,
    bots: dict[str, BotRunner],
    stop: asyncio.Event | None = None,
    *,
    running: RunningBots | None = None,
) -> None:
    """Every bot until ``stop`` (or SIGINT/SIGTERM). One bot failing stops the others: a half-up studio
    would look healthy while one platform's users get no answer."""
    stop = stop if stop is not None else stop_on_signals()
    log.info("starting bots: %s", ", ".join(bots))
    async with asyncio.TaskGroup() as group:
        for platform, run in bots.items():
            task = group.create_task(run(settings, stop=stop), name=f"bot-{platform}")
            if running is not None:
                running.tasks[platform] = task


def serve(settings: Settings, *, concurrency: int = 1, workers: bool = True) -> int:
    """The bots, the canvas (with ``/metrics`` and ``/healthz``) and, unless ``workers`` is False (the
    bot host of a many-machine deployment: the workers run on their own hosts), the workers."""
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
    from bots.web.app import run_web, with_web_secret
    from bots.wiring import wire

    settings = with_web_secret(settings)  # before the bots start: they sign the links the canvas reads
    wiring = wire(settings, embedded_redis=True)
    settings = wiring.settings
    assert settings.redis_url
    # The canvas runs beside the bots and stops with them (a port already taken stops the whole studio).
    running = RunningBots()
    bots["web"] = functools.partial(run_web, studio=wiring.studio, bots=running)
    resent = wiring.studio.enqueue_waiting()
    if resent:
        log.info("handed %d waiting job(s) to the queue again after a restart", resent)
    children = []
    if workers:
        children.append(spawn_worker(settings, settings.redis_url, ["gpu", "cpu"], concurrency))
        children.append(spawn_worker(settings, settings.redis_url, ["train"], 1))
    try:
        asyncio.run(run_bots(settings, bots, running=running))
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            stop_process(child)
        wiring.close()
    return 0
