"""The bot's request pacing: python-telegram-bot's ``AIORateLimiter`` plus a bucket per private chat (real
limiter classes, a recording callback instead of Telegram; the clock is shortened tenfold)."""

from __future__ import annotations

import asyncio
import time

from telegram.ext import AIORateLimiter

from bots.telegram.app import rate_limiter
from bots.telegram.pacing import PacedRateLimiter

PERIOD_S = 0.3  # three messages at once, then one every 0.1 s


def limiter() -> PacedRateLimiter:
    return PacedRateLimiter(
        overall_max_rate=1000,
        overall_time_period=1,
        group_max_rate=1000,
        group_time_period=1,
        private_burst=3,
        private_time_period=PERIOD_S,
    )


async def send_times(pacer: PacedRateLimiter, chat_id: int | str, count: int) -> list[float]:
    started, times = time.perf_counter(), []

    async def callback() -> bool:
        times.append(time.perf_counter() - started)
        return True

    for _ in range(count):
        await pacer.process_request(callback, (), {}, "sendMessage", {"chat_id": chat_id}, None)
    return times


def test_a_private_chat_gets_a_burst_then_a_steady_pace_and_other_chats_do_not_wait() -> None:
    async def scenario() -> tuple[list[float], list[float], list[float]]:
        pacer = limiter()
        return await asyncio.gather(
            send_times(pacer, 1001, 6), send_times(pacer, "1002", 3), send_times(pacer, -1003, 6)
        )

    one, other, group = asyncio.run(scenario())
    assert max(one[:3]) < 0.05 and one[5] >= 0.25  # 3 at once, then about 0.1 s apart
    assert max(other) < 0.05  # another private chat is not held up by the first
    assert max(group) < 0.05  # groups keep AIORateLimiter's own (here generous) limit only


def test_the_bot_is_configured_with_it() -> None:
    configured = rate_limiter()
    assert isinstance(configured, PacedRateLimiter) and isinstance(configured, AIORateLimiter)
