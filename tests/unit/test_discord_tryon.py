"""/tryon on Discord: two attachment options, the member's photo and the garment, become one job; its result
comes back through the interaction with Try again. The real discord.py client against the local fake
Discord API, the real studio; the job queue records."""

# ruff: noqa: F811  (pytest fixtures imported from the interaction tests and used as arguments)
from __future__ import annotations

import io

from PIL import Image

from core.blobs import result_key
from core.config import Settings
from core.messages import t
from core.studio.delivery import Deliverer
from core.studio.service import Studio
from tests.conversation import png_bytes
from tests.e2e.discord_harness import CHANNEL, USER, edits, followups, handled, logged_in, run
from tests.e2e.discord_shapes import GUILD_ID
from tests.e2e.fake_discord_api import FakeDiscordAPI
from tests.e2e.offline import photo_bytes
from tests.fakes import MemoryQueue
from tests.unit.test_discord_interactions import api, queue, settings, studio  # noqa: F401


def corner(studio: Studio, key: str) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(studio.blobs.get(key))) as image:
        r, g, b = image.convert("RGB").getpixel((2, 2))  # type: ignore[misc]
    return r, g, b


def test_tryon_takes_the_photo_and_the_garment_and_returns_the_result_with_try_again(
    api: FakeDiscordAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    files = {
        "photo": api.add_file(
            photo_bytes(color="tan", fmt="PNG"), filename="me.png", content_type="image/png"
        ),
        "garment": api.add_file(
            photo_bytes(color="white", fmt="PNG"), filename="top.png", content_type="image/png"
        ),
    }
    payload = api.slash("tryon", user_id=USER, channel_id=CHANNEL, guild_id=GUILD_ID, files=files)

    async def scenario() -> None:
        async with logged_in(settings, studio) as client:
            await handled(client, payload)
            ((job_id, queue_name, kind),) = queue.enqueued
            assert (queue_name, kind) == ("gpu", "tryon")
            (status,) = edits(api, payload)
            assert status.content == t("job.queued", "en", position=1)
            studio.store.start_attempt(job_id, 3, owner="test-worker")
            studio.blobs.put(result_key(job_id), png_bytes())
            assert studio.store.mark_done(job_id, result_key(job_id), None)
            assert await Deliverer(studio.store, studio.blobs, None, {"discord": client.sender}).deliver(
                job_id
            )
            (result,) = followups(api, payload)
            assert result.content == f"<@{USER}> {t('tryon.caption')}"
            assert result.custom_ids == [f"job:{USER}:retry:{job_id}"]

    run(scenario)
    job = studio.job(queue.enqueued[0][0])
    assert len(api.downloads) == 2
    assert corner(studio, job.input_key) == (210, 180, 140)  # the member, from photo:
    assert corner(studio, job.params["inputs"]["garment"]) == (255, 255, 255)  # the top, from garment:
