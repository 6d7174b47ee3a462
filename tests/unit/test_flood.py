"""A flood: one user sends 1,000 /unmask photos at once, through two studios on one database (as two bot
processes would), 64 at a time. The per-user quota holds exactly, the refused photos are not even downloaded
and the refusal is said once per process, nothing of a refused photo stays in the blob store, memory stays
bounded, and a second user's place in the queue does not move (the real studio, store and photo intake
pool; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.config import Settings
from core.messages import t
from core.ports import ChatRef
from core.studio import commands
from core.studio.commands import Reply, Upload
from core.studio.service import Studio, bootstrap
from tests.e2e.offline import photo_bytes
from tests.fakes import MemoryQueue

FLOODER = ChatRef(platform="telegram", user_id="666", chat_id="666", lang="en")
SECOND = ChatRef(platform="telegram", user_id="7", chat_id="7", lang="en")
FLOOD, AT_ONCE = 1000, 64


FETCHED: list[int] = []


def upload(data: bytes) -> Upload:
    async def fetch(max_bytes: int) -> bytes:
        FETCHED.append(len(data))
        return data

    return Upload(fetch=fetch, size=len(data), content_type="image/jpeg")


@pytest.fixture
def studios(tmp_path: Path, db_url: str) -> Iterator[list[Studio]]:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    pair = [bootstrap(settings, queue=MemoryQueue()) for _ in range(2)]
    yield pair
    for studio in pair:
        studio.store.close()


async def flood(studios: list[Studio], data: bytes) -> list[Reply]:
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(n: int) -> Reply:
        async with gate:
            command = commands.Unmask(chat=FLOODER, key=f"tg:{n}", photo=upload(data))
            return await studios[n % 2].handle(command)

    return await asyncio.gather(*(one(n) for n in range(FLOOD)))


def blob_bytes(studio: Studio) -> int:
    return sum(path.stat().st_size for path in Path(studio.settings.blob_dir).rglob("*") if path.is_file())


@pytest.mark.timeout(300)
def test_a_flood_is_held_to_the_quota_and_the_next_user_keeps_their_place(studios: list[Studio]) -> None:
    data = photo_bytes()
    process = psutil.Process()
    asyncio.run(studios[0].handle(commands.Unmask(chat=FLOODER, key="warm", photo=upload(data))))
    studios[0].cancel_active(FLOODER)
    rss_before = process.memory_info().rss
    FETCHED.clear()

    replies = asyncio.run(flood(studios, data))

    accepted = [reply for reply in replies if reply.job_id is not None]
    told = [reply for reply in replies if reply.error]
    most = studios[0].settings.studio.max_active_per_user
    assert len(accepted) == most
    # Each bot process says it once; the other refusals are silent, and cost no download.
    assert [reply.text for reply in told] == [t("quota.active", count=most)] * len(studios)
    assert sum(reply.silent for reply in replies) == FLOOD - most - len(studios)
    assert len(FETCHED) <= most + AT_ONCE
    active = studios[0].store.jobs_for_user("telegram", FLOODER.user_id)
    assert len(active) == most
    # Only the accepted photos (and the cancelled warm-up's, until retention) are stored.
    assert len(studios[0].blobs.keys("inputs/")) == most + 1
    assert blob_bytes(studios[0]) < (most + 1) * 2 * len(data) + 10**6
    assert process.memory_info().rss - rss_before < 150 * 2**20

    second = asyncio.run(studios[1].handle(commands.Unmask(chat=SECOND, photo=upload(data))))
    assert second.text.startswith(t("job.queued", position=most + 1))
