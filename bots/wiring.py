"""The composition root: every entry point on the chat side (``atelier serve``, each bot, the console chat,
the demo) builds its studio, job queue, event bus and deliverer here, and nowhere else.

Settings are never changed after they are loaded: when the embedded Redis serves the run, the wiring holds a
copy of the settings with its URL, and that copy is what the rest of the run (workers included) is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Settings

if TYPE_CHECKING:
    from core.events import RedisEventBus
    from core.studio.delivery import Deliverer, ResultSender
    from core.studio.service import Studio
    from jobs.broker import EmbeddedRedis


@dataclass
class Wiring:
    settings: Settings  # with the Redis URL this run uses
    studio: Studio
    events: RedisEventBus
    embedded: EmbeddedRedis | None  # the embedded Redis this run started, if any

    def deliverer(self, *senders: ResultSender) -> Deliverer:
        """The Deliverer for these platforms' senders (one per platform)."""
        from core.studio.delivery import Deliverer

        return Deliverer(self.studio.store, self.studio.blobs, self.events, {s.platform: s for s in senders})

    def close(self) -> None:
        self.studio.store.close()
        if self.embedded is not None:
            self.embedded.close()


def wire(settings: Settings, *, embedded_redis: bool = False) -> Wiring:
    """The studio on the database (migrated to head) and blob store of ``settings``, enqueueing through
    Celery. With ``embedded_redis``, a run without a configured Redis URL starts (or attaches to) the
    embedded server first."""
    from core.events import RedisEventBus
    from core.studio.service import bootstrap
    from jobs.broker import ensure_redis, redis_url
    from jobs.celery_app import create_app
    from jobs.queue import CeleryJobQueue

    embedded = ensure_redis(settings) if embedded_redis else None
    if embedded is not None:
        settings = settings.model_copy(update={"redis_url": embedded.url})
    try:
        studio = bootstrap(settings, queue=CeleryJobQueue(create_app(settings)))
    except BaseException:
        if embedded is not None:
            embedded.close()
        raise
    return Wiring(settings, studio, RedisEventBus(redis_url(settings)), embedded)
