"""Job events over a real Redis: delivery, isolation per database, and surviving a Redis restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.events import RESYNC, RedisEventBus
from jobs.broker import EmbeddedRedis, start_embedded_redis

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_dir(tmp_path: Path) -> Path:
    return tmp_path / "redis"


@pytest.fixture
def embedded(redis_dir: Path) -> Iterator[EmbeddedRedis]:
    server = start_embedded_redis(redis_dir)
    yield server
    server.close()


async def next_event(events: asyncio.Queue[tuple[str, str]], timeout_s: float = 10.0) -> tuple[str, str]:
    return await asyncio.wait_for(events.get(), timeout=timeout_s)


async def collect(bus: RedisEventBus, into: asyncio.Queue[tuple[str, str]]) -> None:
    async for event in bus.listen():
        await into.put(event)


@pytest.mark.timeout(60)
def test_events_arrive_stay_in_their_database_and_survive_a_redis_restart(
    embedded: EmbeddedRedis, redis_dir: Path
) -> None:
    url = embedded.url
    other_db = url.replace("db=0", "db=3")

    async def scenario() -> None:
        mine: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        theirs: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        listeners = [
            asyncio.create_task(collect(RedisEventBus(url, max_backoff_s=0.5), mine)),
            asyncio.create_task(collect(RedisEventBus(other_db, max_backoff_s=0.5), theirs)),
        ]
        publisher = RedisEventBus(url)
        assert await next_event(mine) == ("", RESYNC) and await next_event(theirs) == ("", RESYNC)
        publisher.publish("job-1", "done")
        assert await next_event(mine) == ("job-1", "done")

        embedded.close()
        publisher.publish("job-lost", "progress")  # Redis is down: logged, never raised
        restarted = start_embedded_redis(redis_dir)
        try:
            assert await next_event(mine) == ("", RESYNC)  # reconnected: the consumer should sweep now
            publisher.publish("job-2", "failed")
            assert await next_event(mine) == ("job-2", "failed")
            await asyncio.sleep(0.3)
            assert [e for e in _drain(theirs) if e[1] != RESYNC] == []  # another database hears nothing
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
            publisher.close()
            restarted.close()

    asyncio.run(scenario())


def _drain(queue: asyncio.Queue[tuple[str, str]]) -> list[tuple[str, str]]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
