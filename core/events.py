"""Job events over Redis pub/sub (the ``EventBus`` port): workers say "job X progressed / finished", front
ends react at once instead of waiting for their next database sweep.

Pub/sub is lossy by nature (nobody listening, or Redis restarting, means the message is gone). That is fine
here: the database holds the truth and the Deliverer also sweeps it periodically; an event only says "look
now". For the same reason ``publish`` never raises: a worker must not fail a finished job because Redis
blinked.

Pub/sub channels are global to a Redis server (not per database number), so the channel name carries the
database number: two deployments, or two test runs, on one server with different databases do not hear each
other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import redis
import redis.asyncio as aredis

log = logging.getLogger(__name__)

# Sent by ``listen`` after every (re)subscription: events may have been missed while disconnected, so the
# consumer should sweep the database now.
RESYNC = "resync"

_SOCKET_TIMEOUT_S = 5.0


def redis_db(url: str) -> int:
    """The database number of a redis-py URL (``redis://h:p/2``, ``unix:///s.sock?db=2``)."""
    parsed = urlparse(url)
    query_db = parse_qs(parsed.query).get("db")
    if query_db:
        return int(query_db[0])
    if parsed.scheme in ("redis", "rediss") and parsed.path.strip("/"):
        return int(parsed.path.strip("/"))
    return 0


def default_channel(url: str) -> str:
    return f"atelier:{redis_db(url)}:jobs"


class RedisEventBus:
    def __init__(self, url: str, *, channel: str | None = None, max_backoff_s: float = 10.0) -> None:
        self.url = url
        self.channel = channel or default_channel(url)
        self.max_backoff_s = max_backoff_s
        self._client: redis.Redis | None = None

    def publish(self, job_id: str, event: str) -> None:
        """Best effort: logs and returns when Redis is unreachable."""
        payload = json.dumps({"job": job_id, "event": event})
        try:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    self.url, socket_timeout=_SOCKET_TIMEOUT_S, socket_connect_timeout=_SOCKET_TIMEOUT_S
                )
            self._client.publish(self.channel, payload)
        except redis.RedisError as error:
            log.warning("event %s for job %s not published: %s", event, job_id, error)

    async def listen(self) -> AsyncIterator[tuple[str, str]]:
        """``(job_id, event)`` forever. Reconnects with capped, jittered exponential backoff when Redis goes
        away, and yields ``("", RESYNC)`` after each successful subscription."""
        failures = 0
        while True:
            client = aredis.Redis.from_url(self.url, socket_connect_timeout=_SOCKET_TIMEOUT_S)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                failures = 0
                yield "", RESYNC
                while True:
                    # A timeout keeps the loop waking up, so a dead connection is noticed by the health
                    # check redis-py runs on reads.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    parsed = _parse(message.get("data"))
                    if parsed is not None:
                        yield parsed
            except (redis.RedisError, OSError) as error:
                failures += 1
                delay = min(self.max_backoff_s, 0.25 * 2 ** min(failures, 8)) * random.uniform(0.5, 1.0)
                log.warning("event subscription lost (%s); reconnecting in %.1f s", error, delay)
                await asyncio.sleep(delay)
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except (redis.RedisError, OSError):
                    pass

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _parse(data: object) -> tuple[str, str] | None:
    try:
        decoded = json.loads(data if isinstance(data, str | bytes) else "")
        return str(decoded["job"]), str(decoded["event"])
    except (ValueError, KeyError, TypeError):
        log.warning("ignored a malformed job event: %r", data)
        return None
