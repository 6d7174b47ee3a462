"""Result delivery against Telegram's flood limits: python-telegram-bot's ``AIORateLimiter`` (as the bot is
configured, ``bots.telegram.app.rate_limiter``) against the per-chat token bucket it replaced.

    python bench/bench_telegram_flood.py [--scale 0.1] [--model leaky|window|both]

No network: a simulated Telegram enforces the limits its FAQ states, and answers 429 with ``retry_after`` when
a request breaks one: 30 messages a second in all, 20 a minute in a group, and in a private chat about one a
second with short bursts of 3 (an assumption: Telegram publishes no exact figure, and 3 is the old bucket's
own burst). Telegram does not say how it counts either, so each limit is simulated both ways: as a leaky
bucket (bursts, then a steady rate, as PTB's limiter and the old bucket assume) and as a window (never more
than the limit in any period). Each request takes 150 ms. Deliveries run as the Deliverer runs them: 8 at
once, each a result of three messages (photo, file, /suit sheet) and the final edit of the status message, one
after the other, and a 429 is waited out by the sender (up to 4 attempts, as ``bots.telegram.sender`` does).

Strategies: ``bucket`` (the old ``ChatRateLimiter``, 1 a second and a burst of 3 per chat, its turn held while
a 429 is waited out; copied here from ``bots/telegram/ratelimit.py`` as it was), ``aio`` (``AIORateLimiter``
without retries of its own), ``aio+retries`` (``AIORateLimiter(max_retries=3)`` doing the 429 waits itself,
which pauses every chat) and ``paced`` (``bots.telegram.pacing.PacedRateLimiter`` as the bot is configured:
``AIORateLimiter`` plus a per-private-chat bucket). Workloads: 120 private chats at once; 10 results in one
group; the same group while 40 private chats are served. Times are in Telegram seconds; ``--scale`` runs the
clock faster (0.1: ten times) and the figures are scaled back.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dtm
import itertools
import logging
import math
import sys
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from bots.telegram.app import GROUP_MESSAGES_PER_MINUTE, MESSAGES_PER_SECOND  # noqa: E402
from bots.telegram.pacing import PacedRateLimiter  # noqa: E402

LATENCY_S = 0.15
PRIVATE_BURST, PRIVATE_PER_S = 3, 1.0
PARTS = 4  # photo, file, sheet, final status edit
SLOTS = 8
MAX_ATTEMPTS, MAX_WAIT_S = 4, 120.0


class Bucket:
    """A leaky bucket of ``capacity`` draining at ``per_s`` (on the real clock)."""

    def __init__(self, capacity: float, per_s: float) -> None:
        self.capacity, self.per_s, self.level, self.updated = capacity, per_s, 0.0, time.monotonic()

    def wait(self, now: float) -> float:
        """Seconds until one more fits (0: it fits now)."""
        self.level = max(0.0, self.level - (now - self.updated) * self.per_s)
        self.updated = now
        return max(0.0, (self.level + 1 - self.capacity) / self.per_s)


class Window:
    """At most ``limit`` in any ``period`` seconds (on the real clock)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period, self.times = limit, period, deque[float]()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.period - now


@dataclass
class FakeTelegram:
    """Telegram's flood control as its FAQ describes it, on a clock ``scale`` times as fast. ``model``:
    "leaky" (bursts, then a steady rate: how PTB's limiter and the old bucket see it) or "window" (never more
    than the limit in any period: stricter)."""

    scale: float
    model: str
    overall: Bucket | Window = field(init=False)
    chats: dict[int, Bucket | Window] = field(default_factory=dict)
    refused: int = 0

    def __post_init__(self) -> None:
        self.overall = self._limit(MESSAGES_PER_SECOND, 1.0)

    def _limit(self, count: int, period: float) -> Bucket | Window:
        period *= self.scale
        return Bucket(count, count / period) if self.model == "leaky" else Window(count, period)

    async def call(self, chat_id: int) -> None:
        now = time.monotonic()
        if chat_id not in self.chats:
            group = chat_id < 0
            count, period = (GROUP_MESSAGES_PER_MINUTE, 60.0) if group else (PRIVATE_BURST, PRIVATE_BURST)
            self.chats[chat_id] = self._limit(count, period / PRIVATE_PER_S if not group else period)
        limits = (self.overall, self.chats[chat_id])
        wait = max(limit.wait(now) for limit in limits)
        if wait > 0:
            self.refused += 1
            # Whole seconds, as Telegram says them, on the fast clock (what AIORateLimiter waits, too).
            raise RetryAfter(dtm.timedelta(seconds=max(1, math.ceil(wait / self.scale)) * self.scale))
        for limit in limits:
            if isinstance(limit, Bucket):
                limit.level += 1
            else:
                limit.times.append(now)
        await asyncio.sleep(LATENCY_S * self.scale)


class ChatRateLimiter:
    """The per-chat token bucket as ``bots/telegram/ratelimit.py`` had it (its pruning left out)."""

    def __init__(self, per_second: float, burst: int) -> None:
        self._rate, self._burst = per_second, float(burst)
        self._buckets: dict[int, list[Any]] = {}

    @asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        bucket = self._buckets.setdefault(chat_id, [self._burst, time.monotonic(), asyncio.Lock()])
        async with bucket[2]:
            self._refill(bucket)
            if bucket[0] < 1.0:
                await asyncio.sleep((1.0 - bucket[0]) / self._rate)
                self._refill(bucket)
            bucket[0] -= 1.0
            yield

    def _refill(self, bucket: list[Any]) -> None:
        now = time.monotonic()
        bucket[0] = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
        bucket[1] = now


Send = Callable[[int], Awaitable[None]]


@dataclass
class Outcome:
    makespan_s: float
    p95_private_s: float | None
    p95_group_s: float | None
    refused: int
    gave_up: int


async def with_429_waits(call: Callable[[], Awaitable[None]], scale: float, attempts: int) -> None:
    """The sender's 429 handling: wait as long as Telegram says, a bounded number of times."""
    for attempt in range(1, attempts + 1):
        try:
            await call()
            return
        except RetryAfter as error:
            if attempt == attempts:
                raise
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                wait = error.retry_after
            seconds = wait.total_seconds() if isinstance(wait, dtm.timedelta) else float(wait)
            await asyncio.sleep(min(seconds, MAX_WAIT_S * scale))


def strategy(name: str, telegram: FakeTelegram) -> Send:
    s = telegram.scale
    if name == "bucket":
        bucket = ChatRateLimiter(per_second=PRIVATE_PER_S / s, burst=PRIVATE_BURST)

        async def bucketed(chat_id: int) -> None:
            async with bucket.turn(chat_id):
                await with_429_waits(lambda: telegram.call(chat_id), s, MAX_ATTEMPTS)

        return bucketed
    retries = 3 if name == "aio+retries" else 0
    limiter = (
        PacedRateLimiter(
            overall_max_rate=MESSAGES_PER_SECOND,
            overall_time_period=1 * s,
            group_max_rate=GROUP_MESSAGES_PER_MINUTE,
            group_time_period=60 * s,
            private_burst=PRIVATE_BURST,
            private_time_period=PRIVATE_BURST / PRIVATE_PER_S * s,
        )
        if name == "paced"
        else AIORateLimiter(
            MESSAGES_PER_SECOND, 1 * s, GROUP_MESSAGES_PER_MINUTE, 60 * s, max_retries=retries
        )
    )

    async def limited(chat_id: int) -> None:
        async def callback(*_: Any, **__: Any) -> bool:
            await telegram.call(chat_id)
            return True

        async def once() -> None:
            await limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": chat_id}, None)

        await with_429_waits(once, s, 1 if retries else MAX_ATTEMPTS)

    return limited


async def deliver(chats: list[int], send: Send, scale: float) -> tuple[dict[int, list[float]], int]:
    """Every chat's result, ``SLOTS`` deliveries at once; each chat's delivery times and how many gave up."""
    slots, started = asyncio.Semaphore(SLOTS), time.monotonic()
    took: dict[int, list[float]] = {}
    gave_up = 0

    async def one(chat_id: int) -> None:
        nonlocal gave_up
        async with slots:
            try:
                for _ in range(PARTS):
                    await send(chat_id)
            except RetryAfter:
                gave_up += 1  # the Deliverer would retry it later, with backoff
                return
        took.setdefault(chat_id, []).append((time.monotonic() - started) / scale)

    await asyncio.gather(*(one(chat) for chat in chats))
    return took, gave_up


def p95(values: list[float]) -> float | None:
    return percentile(values, 95) if values else None


async def run(name: str, chats: list[int], scale: float, model: str) -> Outcome:
    telegram = FakeTelegram(scale, model)
    started = time.monotonic()
    took, gave_up = await deliver(chats, strategy(name, telegram), scale)
    private = [t for chat, times in took.items() if chat > 0 for t in times]
    group = [t for chat, times in took.items() if chat < 0 for t in times]
    return Outcome((time.monotonic() - started) / scale, p95(private), p95(group), telegram.refused, gave_up)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--model", choices=["leaky", "window", "both"], default="both")
    args = parser.parse_args()
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)  # as the bot has it
    group = -100
    workloads = {
        "120 private chats": list(range(1, 121)),
        "10 results in a group": [group] * 10,
        "a group + 40 private chats": [group] * 10 + list(range(1, 41)),
    }

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:6.1f}"

    print(
        f"{'workload':28} {'strategy':12} {'all done s':>10} {'p95 private':>11} {'p95 group':>9} "
        f"{'429s':>5} {'gave up':>7}"
    )
    models = ["leaky", "window"] if args.model == "both" else [args.model]
    for model, (workload, chats) in itertools.product(models, workloads.items()):
        for name in ("bucket", "aio", "aio+retries", "paced"):
            outcome = asyncio.run(run(name, chats, args.scale, model))
            private, group = cell(outcome.p95_private_s), cell(outcome.p95_group_s)
            print(
                f"{model:6} {workload:28} {name:12} {outcome.makespan_s:10.1f} {private:>11} {group:>9} "
                f"{outcome.refused:5d} {outcome.gave_up:7d}"
            )


if __name__ == "__main__":
    main()
