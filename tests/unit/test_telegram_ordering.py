"""The Telegram update processor: one chat's updates in order, other chats alongside, and a chat with a long
backlog (a flood) holding no more than one of the running places (real ``Update`` objects)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from telegram import Chat, Message, Update

from bots.telegram.ordering import PerChatUpdateProcessor

SLOW_S = 0.05


def update_in(chat_id: int, n: int) -> Update:
    return Update(n, message=Message(n, datetime.now(UTC), Chat(chat_id, Chat.PRIVATE)))


def test_a_flooding_chat_does_not_keep_other_chats_waiting() -> None:
    async def scenario() -> tuple[float, list[int], int]:
        processor = PerChatUpdateProcessor(4)
        order: list[int] = []
        running = peak = 0
        other_started = asyncio.Event()

        async def work(n: int) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(SLOW_S)
            order.append(n)
            running -= 1

        async def other() -> None:
            other_started.set()

        flood = [asyncio.create_task(processor.process_update(update_in(1, n), work(n))) for n in range(60)]
        await asyncio.sleep(SLOW_S / 2)
        started = time.perf_counter()
        await processor.process_update(update_in(2, 1000), other())
        waited = time.perf_counter() - started
        await asyncio.gather(*flood)
        return waited, order, peak

    waited, order, peak = asyncio.run(scenario())
    assert waited < 10 * SLOW_S  # the backlog alone is 60 x SLOW_S
    assert order == list(range(60)) and peak == 1  # one chat: one at a time, in order


def test_no_more_than_the_bound_run_at_once_across_chats() -> None:
    async def scenario() -> int:
        processor = PerChatUpdateProcessor(4)
        running = peak = 0

        async def work() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(SLOW_S / 5)
            running -= 1

        await asyncio.gather(
            *(processor.process_update(update_in(chat, n), work()) for chat in range(10) for n in range(3))
        )
        return peak

    assert asyncio.run(scenario()) == 4
