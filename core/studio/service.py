"""The chat side's one object, ``Studio``: the job desk (submitting and tracking jobs, ``jobdesk``), with the
identity desk (consent, selfies, training, preferences, forgetting, ``training``) and the command desk
(``Studio.handle(command) -> Reply``, ``frontdesk``) beside it, each a service of its own."""

from __future__ import annotations

from core.blobs import open_blob_store
from core.config import Settings
from core.ports import BlobStore, JobQueue
from core.store import JobStore, migrate
from core.studio.commands import Command, Reply
from core.studio.frontdesk import FrontDesk
from core.studio.jobdesk import JobDesk, Submitted, UnconfiguredQueue
from core.studio.training import IdentityDesk

__all__ = ["Studio", "Submitted", "bootstrap"]


class Studio(JobDesk):
    """The job desk, plus ``identities`` and the command desk that routes each chat command."""

    def __init__(self, settings: Settings, store: JobStore, blobs: BlobStore, queue: JobQueue) -> None:
        super().__init__(settings, store, blobs, queue)
        self.identities = IdentityDesk(self)
        self.desk = FrontDesk(self, self.identities)

    async def handle(self, command: Command) -> Reply:
        """What every chat front end calls (see ``core.studio.frontdesk``)."""
        return await self.desk.handle(command)


def bootstrap(settings: Settings, *, queue: JobQueue | None = None, blobs: BlobStore | None = None) -> Studio:
    """The composition root of the chat side: database migrated to head, blob store, queue adapter."""
    url = settings.resolved_database_url
    migrate(url)
    return Studio(
        settings,
        JobStore(url),
        blobs if blobs is not None else open_blob_store(settings),
        queue if queue is not None else UnconfiguredQueue(),
    )
