"""Interaction acknowledgement latency of the Discord bot: from an interaction arriving to its defer reaching
Discord, normally and while Redis answers slowly.

    python bench/bench_discord_ack.py [--interactions N] [--rate PER_S]

The real discord.py client (logged in, its HTTP layer pointed at the local fake Discord API) with the real
studio on a real Redis-backed queue (``CeleryJobQueue``; the tests' Redis, ``tests/services.py``, a database
claimed for the run) receives N interactions as gateway payloads, at a steady rate: a third ``/unmask`` with
an attachment (download, intake, job row, Celery publish), a third ``/status``, a third button presses. The
latency of one is from handing its payload to the client to the fake server receiving its defer callback (both
on this process's monotonic clock). "Redis slowed" puts a TCP proxy between the bot and Redis that holds every
answer from Redis back by the given delay, so every Celery publish is that much slower.
The answer columns (interaction -> the answer after the studio's work) show that the slow Redis really slowed
the work behind the defer. Target: p99 <= 0.5 s in every scenario. Exits 1 when a scenario misses it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from bots.processes import widen_thread_pool  # noqa: E402
from core.studio.service import bootstrap  # noqa: E402
from jobs.celery_app import create_app  # noqa: E402
from jobs.queue import CeleryJobQueue  # noqa: E402
from tests.e2e.discord_harness import CHANNEL, feed, logged_in, make_settings, settle  # noqa: E402
from tests.e2e.discord_shapes import GUILD_ID  # noqa: E402
from tests.e2e.fake_discord_api import FakeDiscordAPI  # noqa: E402
from tests.e2e.offline import photo_bytes  # noqa: E402
from tests.e2e.stack import claimed_redis_db  # noqa: E402

TARGET_P99_S = 0.5
FIRST_USER = 800_000_000_000_000_000
SCENARIOS = (("normal", 0.0), ("Redis +200 ms", 0.2), ("Redis +1 s", 1.0))


class SlowRedisProxy:
    """A TCP proxy to Redis, in a thread of its own, that delivers each answer ``delay_s`` after Redis sent
    it (in order), as a distant or overloaded Redis would."""

    def __init__(self, upstream_host: str, upstream_port: int, delay_s: float) -> None:
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.delay_s, self.port = delay_s, 0
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="slow-redis")

    def __enter__(self) -> SlowRedisProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, 0.0),
                self._pump(up_reader, writer, self.delay_s),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # shutting down; asyncio's stream callback (3.11) trips over a cancelled connection task
        finally:
            writer.close()
            up_writer.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay_s: float) -> None:
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await pending.get()
                if not chunk:
                    sink.close()
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                sink.write(chunk)
                await sink.drain()

        sender = asyncio.create_task(deliver())
        while True:
            chunk = await source.read(65536)
            pending.put_nowait((time.monotonic() + delay_s, chunk))
            if not chunk:
                break
        await sender


@contextmanager
def redis_via(url: str, delay_s: float) -> Iterator[str]:
    """``url`` itself, or the same database behind a proxy that delays every answer by ``delay_s``."""
    if delay_s <= 0:
        yield url
        return
    parsed = urlparse(url)
    with SlowRedisProxy(parsed.hostname or "127.0.0.1", parsed.port or 6379, delay_s) as proxy:
        yield f"redis://127.0.0.1:{proxy.port}{parsed.path}"


async def measure(
    api: FakeDiscordAPI, work: Path, redis_url: str, count: int, rate: float
) -> tuple[list[float], list[float]]:
    """Seconds from feeding each interaction to its defer reaching the fake server, and to its answer (the
    edit or followup after the studio's work) reaching it."""
    widen_thread_pool()  # as the bot process does (run_discord_bot)
    settings = make_settings(work, api.api_url).model_copy(update={"redis_url": redis_url})
    studio = bootstrap(settings, queue=CeleryJobQueue(create_app(settings)))
    photo = photo_bytes()
    try:
        async with logged_in(settings, studio) as client:
            # One job whose Cancel button the presses hit (its owner first cancels it, then is told it ended).
            owner = FIRST_USER
            first = api.slash(
                "unmask",
                user_id=owner,
                channel_id=CHANNEL,
                guild_id=GUILD_ID,
                files={"photo": api.add_file(photo)},
            )
            feed(client, first)
            await settle()
            status_message = api.tokens[first["token"]].message_id or 0
            (cancel,) = [r for r in api.for_token(first["token"]) if r.method == "PATCH"][0].custom_ids
            fed: list[tuple[str, float]] = []
            started = time.monotonic()
            for n in range(count):
                user = FIRST_USER + 1 + n
                kind = n % 3
                if kind == 0:
                    files = {"photo": api.add_file(photo)}
                    payload = api.slash(
                        "unmask", user_id=user, channel_id=CHANNEL, guild_id=GUILD_ID, files=files
                    )
                elif kind == 1:
                    payload = api.slash("status", user_id=user, channel_id=CHANNEL, guild_id=GUILD_ID)
                else:
                    presser = owner if n % 2 else user  # the owner, or someone else (refused)
                    payload = api.press(status_message, cancel, user_id=presser, guild_id=GUILD_ID)
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
                fed.append((payload["token"], time.monotonic()))
                feed(client, payload)
            await settle(timeout=120)
    finally:
        studio.store.close()
    acks = {r.path.split("/")[3]: r.at for r in api.matching(lambda r: r.is_callback())}
    answers: dict[str, float] = {}
    for request in api.matching(lambda r: r.path.startswith("/webhooks/")):
        token = request.path.split("/")[3]
        answers[token] = min(answers.get(token, request.at), request.at)
    missing = [token for token, _ in fed if token not in acks or token not in answers]
    if missing:
        raise RuntimeError(f"{len(missing)} interactions were never acknowledged or answered")
    return [acks[token] - at for token, at in fed], [answers[token] - at for token, at in fed]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=300)
    parser.add_argument("--rate", type=float, default=60.0, help="interactions per second")
    args = parser.parse_args()

    rows = []
    with claimed_redis_db() as redis_url:
        for name, delay_s in SCENARIOS:
            with (
                tempfile.TemporaryDirectory() as tmp,
                FakeDiscordAPI() as api,
                redis_via(redis_url, delay_s) as url,
            ):
                started = time.monotonic()
                latencies, answers = asyncio.run(measure(api, Path(tmp), url, args.interactions, args.rate))
            rows.append((name, latencies, answers, time.monotonic() - started))

    print(
        f"\nDiscord interaction -> defer received ({args.interactions} interactions at {args.rate:g}/s each)"
    )
    print(
        f"{'scenario':<16}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}"
        f"{'answer p50':>12}{'answer p99':>12}{'run s':>7}"
    )
    failed = False
    for name, latencies, answers, seconds in rows:
        p50, p95, p99 = (percentile(latencies, q) * 1000 for q in (50, 95, 99))
        print(
            f"{name:<16}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{max(latencies) * 1000:>9.1f}"
            f"{statistics.mean(latencies) * 1000:>9.1f}{percentile(answers, 50) * 1000:>12.0f}"
            f"{percentile(answers, 99) * 1000:>12.0f}{seconds:>7.1f}"
        )
        failed = failed or p99 > TARGET_P99_S * 1000
    print(f"target: p99 <= {TARGET_P99_S * 1000:.0f} ms in every scenario: {'MISSED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
