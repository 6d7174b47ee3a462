"""Which parts of a multi-message delivery already reached the chat, kept across attempts.

A result can take several messages: on Telegram the photo, the full-resolution file and the /suit sheet. When
the second fails, the retry must send the second and the third, not the photo again. The sender names each
part and sends it through ``SentParts.send``; the part is recorded once the platform took it, and durably
before the next part goes.

The record lives in the blob store under ``core.blobs.delivery_parts_key`` (a few bytes of JSON): that needs
no schema change, every bot process sees it as it sees the results, and the write is atomic. The Deliverer
loads it when it claims a delivery and deletes it once the delivery has ended (sent, or undeliverable). A
process killed between the platform taking a part and the record being written sends that part again on the
retry: a rare duplicate, the same trade-off as the delivery claim's (``core.store.records``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable

from core.blobs import delivery_parts_key
from core.ports import BlobStore

log = logging.getLogger(__name__)


class SentParts:
    """The parts of one delivery that already reached the chat ("photo", "document", "attachment:sheet"...).
    ``save`` makes each record durable before the next part goes; without it (a sender called directly) the
    record lives only as long as this object."""

    def __init__(
        self,
        sent: Iterable[str] = (),
        save: Callable[[frozenset[str]], Awaitable[None]] | None = None,
    ) -> None:
        self._sent = set(sent)
        self._save = save

    def __contains__(self, part: object) -> bool:
        return part in self._sent

    async def send(self, part: str, send: Callable[[], Awaitable[object]]) -> bool:
        """Send ``part`` unless an earlier attempt did; ``True`` when this call sent it. A part is recorded
        only after ``send`` returned: one that failed goes again next time."""
        if part in self._sent:
            return False
        await send()
        self._sent.add(part)
        if self._save is not None:
            await self._save(frozenset(self._sent))
        return True


def load_sent_parts(blobs: BlobStore, job_id: str) -> SentParts:
    """What earlier attempts at ``job_id``'s delivery sent, saving each further part to ``blobs``."""
    key = delivery_parts_key(job_id)
    sent: list[str] = []
    if blobs.exists(key):
        try:
            sent = [str(part) for part in json.loads(blobs.get(key))["sent"]]
        except (OSError, ValueError, KeyError, TypeError):
            # Unreadable: sending everything again (a rare duplicate) beats never delivering.
            log.warning("job %s: unreadable record of the parts already sent; sending them all", job_id)

    async def save(done: frozenset[str]) -> None:
        await asyncio.to_thread(blobs.put, key, json.dumps({"sent": sorted(done)}).encode())

    return SentParts(sent, save)


def forget_sent_parts(blobs: BlobStore, job_id: str) -> None:
    """The delivery has ended: nothing is left to resume."""
    blobs.delete(delivery_parts_key(job_id))
