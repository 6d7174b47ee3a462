"""``atelier serve``: the whole studio on one machine — embedded Redis (unless one is configured), a worker
process for the gpu and cpu queues, a separate one for the train queue (hours of LoRA training never hold up
an /unmask), and every chat bot that has a token."""

from __future__ import annotations

import asyncio
import logging

from bots.processes import spawn_worker, stop_process
from core.config import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings, *, concurrency: int = 1) -> int:
    if settings.telegram.token is None:
        log.error("no bot token: set ATELIER_TELEGRAM__TOKEN (see README, Configuration)")
        return 2
    from bots.telegram.app import run_bot
    from core.service import bootstrap
    from jobs.broker import ensure_redis
    from jobs.celery_app import create_app
    from jobs.queue import CeleryJobQueue

    embedded = ensure_redis(settings)
    if embedded is not None:
        settings.redis_url = embedded.url
    assert settings.redis_url
    resent = bootstrap(settings, queue=CeleryJobQueue(create_app(settings))).enqueue_waiting()
    if resent:
        log.info("handed %d waiting job(s) to the queue again after a restart", resent)
    worker = spawn_worker(settings, settings.redis_url, ["gpu", "cpu"], concurrency)
    trainer = spawn_worker(settings, settings.redis_url, ["train"], 1)
    try:
        asyncio.run(run_bot(settings))
    except KeyboardInterrupt:
        pass
    finally:
        stop_process(trainer)
        stop_process(worker)
        if embedded is not None:
            embedded.close()
    return 0
