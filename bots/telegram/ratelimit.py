"""Per-chat flood control for messages sent outside update handlers.

Telegram allows about one message per second in a chat, averaged: short bursts pass (a photo and its document
together), a sustained stream gets 429s. A token bucket per chat models exactly that, and one chat waiting
never holds up another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# Forget buckets of quiet chats once this many are tracked.
_PRUNE_ABOVE = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChatRateLimiter:
    def __init__(self, per_second: float = 1.0, burst: int = 3) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}

    @asynccontextmanager
    async def turn(self, chat_id: str) -> AsyncIterator[None]:
        """Wait for the chat's turn and a token; sends to the same chat are serialised while held."""
        bucket = self._bucket(chat_id)
        async with bucket.lock:
            self._refill(bucket)
            if bucket.tokens < 1.0:
                await asyncio.sleep((1.0 - bucket.tokens) / self._rate)
                self._refill(bucket)
            bucket.tokens -= 1.0
            yield

    def try_acquire(self, chat_id: str) -> bool:
        """Take a token now if one is free and no send is waiting for this chat; never waits."""
        bucket = self._bucket(chat_id)
        self._refill(bucket)
        if bucket.lock.locked() or bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _bucket(self, chat_id: str) -> _Bucket:
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune()
            bucket = self._buckets[chat_id] = _Bucket(self._burst, time.monotonic())
        return bucket

    def _refill(self, bucket: _Bucket) -> None:
        now = time.monotonic()
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now

    def _prune(self) -> None:
        for chat_id, bucket in list(self._buckets.items()):
            self._refill(bucket)
            if bucket.tokens >= self._burst and not bucket.lock.locked():
                del self._buckets[chat_id]
