"""Updates of one chat in order, different chats concurrently.

A photo download or a slow database write for one user must not stall everybody else, yet within one chat
"/unmask" has to be handled before the photo that follows it.

An update first waits for its chat's turn, and only then for one of the ``max_concurrent_updates`` running
places. python-telegram-bot's own order is the other way round (its semaphore, then ours), so a chat that
sends a thousand photos at once would fill every place with updates waiting for their own chat, and every
other chat would wait behind the flood. Hence the base class is given no real bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# What the base class's semaphore is given: waiting updates are coroutines, not places.
_UNBOUNDED = 2**31 - 1


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(_UNBOUNDED)
        self.running_at_once = max_concurrent_updates
        self._places = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            async with self._places:
                await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._waiting[chat.id] = self._waiting.get(chat.id, 0) + 1
        try:
            async with lock, self._places:
                await coroutine
        finally:
            self._waiting[chat.id] -= 1
            if not self._waiting[chat.id]:  # last one out forgets the chat
                del self._waiting[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
