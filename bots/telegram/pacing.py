"""The pacing of every request the Telegram bot makes: python-telegram-bot's ``AIORateLimiter`` (all chats
together, and each group), plus a per-chat pace for private chats, which it does not have.

Telegram asks for about one message a second in one private chat, with short bursts, and answers 429 to a
bot that sends faster. ``AIORateLimiter`` paces only the whole bot and each group, so a result of three
messages (photo, file, /suit sheet) to eight private chats at once runs into that per-chat limit and waits
out a 429 per chat (``bench/bench_telegram_flood.py``: 120 429s and 41 % longer for 120 private chats than
with a per-chat bucket, while it beats the bucket in groups). Here a private chat first waits for its own
leaky bucket (``aiolimiter``, the rate-limiter extra's own dependency), then for the shared limits, so a
waiting chat never holds a place the others need.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

# Private chats whose bucket is kept; past this, buckets that are full again are forgotten.
MAX_TRACKED_CHATS = 1024


class PacedRateLimiter(AIORateLimiter):
    def __init__(
        self,
        *,
        overall_max_rate: float,
        overall_time_period: float,
        group_max_rate: float,
        group_time_period: float,
        private_burst: int,
        private_time_period: float,
    ) -> None:
        """``private_burst`` messages at once in a private chat, then one every
        ``private_time_period / private_burst`` seconds."""
        super().__init__(
            overall_max_rate=overall_max_rate,
            overall_time_period=overall_time_period,
            group_max_rate=group_max_rate,
            group_time_period=group_time_period,
            max_retries=0,
        )
        self._private_burst = private_burst
        self._private_period = private_time_period
        self._private: dict[int, AsyncLimiter] = {}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id = _private_chat(data.get("chat_id"))
        pace = self._private_limiter(chat_id) if chat_id is not None else contextlib.nullcontext()
        async with pace:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

    def _private_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._private) > MAX_TRACKED_CHATS:
            for chat in [
                c for c, limiter in self._private.items() if limiter.has_capacity(self._private_burst)
            ]:
                del self._private[chat]
        limiter = self._private.get(chat_id)
        if limiter is None:
            limiter = self._private[chat_id] = AsyncLimiter(self._private_burst, self._private_period)
        return limiter


def _private_chat(chat_id: object) -> int | None:
    """A private chat's id is the user's, a positive number; groups and channels are negative (or @names)."""
    try:
        number = int(chat_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
