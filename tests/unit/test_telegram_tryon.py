"""/tryon on Telegram: an album of two photos captioned /tryon, the garment captioned /tryon in reply to the
member's photo, /tryon and then the two photos; one photo only; duplicates; the result with Try again.
Real ``Update`` objects over HTTP to the local fake Bot API, the real studio; the job queue records."""

# ruff: noqa: F811  (pytest fixtures imported from the handler tests and used as arguments)
from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

from PIL import Image
from telegram.ext import ExtBot

from bots.telegram.sender import TelegramResultSender
from core.blobs import HELD_ROOT, result_key
from core.config import Settings
from core.messages import t
from core.ports import JobView
from core.retention import purge_expired
from core.store.models import utcnow
from core.studio.delivery import Deliverer
from core.studio.service import Studio
from tests.conversation import png_bytes
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.e2e.offline import photo_bytes
from tests.fakes import MemoryQueue
from tests.unit.test_telegram_handlers import (  # noqa: F401
    CHAT,
    api,
    queue,
    replies,
    run,
    settings,
    studio,
)

ME, TOP = "tan", "white"  # the colours of the two photos: which one ended up where


def tryon_job(studio: Studio, queue: MemoryQueue) -> JobView:
    assert len(queue.enqueued) == 1, queue.enqueued
    job_id, queue_name, kind = queue.enqueued[0]
    assert (queue_name, kind) == ("gpu", "tryon")
    return studio.job(job_id)


def corner(studio: Studio, key: str) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(studio.blobs.get(key))) as image:
        r, g, b = image.convert("RGB").getpixel((2, 2))  # type: ignore[misc]
    return r, g, b


def assert_me_wearing_top(studio: Studio, job: JobView) -> None:
    assert corner(studio, job.input_key) == (210, 180, 140)  # tan: the member's photo
    assert corner(studio, job.params["inputs"]["garment"]) == (255, 255, 255)  # white: the garment


def photo(
    api: FakeBotAPI, colour: str, reply_to: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    message = api.photo_message(CHAT, photo_bytes(color=colour, fmt="PNG"), **fields)
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return message


def test_an_album_of_two_captioned_tryon_is_one_job_me_first_then_the_garment(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    me = photo(api, ME, caption="/tryon", media_group_id="album-1")
    top = photo(api, TOP, media_group_id="album-1")  # Telegram puts the caption on the first photo only
    run(studio, settings, api.update_of(me), api.update_of(top))
    job = tryon_job(studio, queue)
    assert_me_wearing_top(studio, job)
    assert replies(api) == ["Queued (position 1)."]  # the album's first photo is not answered on its own
    assert job.reply_to_message_id == str(me["message_id"])
    assert studio.blobs.keys(HELD_ROOT) == []


def test_an_album_captioned_tryon_on_its_second_photo_is_still_me_first_then_the_garment(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    # A client may put an album's caption on any of its photos: the first then arrives as a plain photo.
    me = photo(api, ME, media_group_id="album-5")
    top = photo(api, TOP, caption="/tryon", media_group_id="album-5")
    run(studio, settings, api.update_of(me), api.update_of(top))
    job = tryon_job(studio, queue)
    assert_me_wearing_top(studio, job)
    assert replies(api)[-1] == "Queued (position 1)."
    assert job.reply_to_message_id == str(me["message_id"])
    assert studio.blobs.keys(HELD_ROOT) == []


def test_a_captioned_photo_of_another_album_does_not_take_an_earlier_album_photo(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    other = photo(api, TOP, media_group_id="album-6")
    me = photo(api, ME, caption="/tryon", media_group_id="album-7")
    run(studio, settings, api.update_of(other), api.update_of(me))
    assert queue.enqueued == []
    # The other album's photo got its own answer; this album's first photo waits for the rest of its album.
    assert replies(api) == [t("unmask.which_command")]
    assert len(studio.blobs.keys(HELD_ROOT)) == 1


def test_an_album_delivered_twice_makes_one_job_and_one_reply(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    album = [
        api.update_of(photo(api, ME, caption="/tryon", media_group_id="album-2")),
        api.update_of(photo(api, TOP, media_group_id="album-2")),
    ]
    run(studio, settings, *album, *album)
    tryon_job(studio, queue)
    assert replies(api) == ["Queued (position 1)."]
    assert studio.blobs.keys(HELD_ROOT) == []


def test_the_garment_captioned_tryon_in_reply_to_my_photo(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    me = photo(api, ME)
    top = photo(api, TOP, caption="/tryon", reply_to=me)
    run(studio, settings, api.update_of(me), api.update_of(top))
    job = tryon_job(studio, queue)
    assert_me_wearing_top(studio, job)
    assert replies(api)[-1] == "Queued (position 1)."
    assert job.reply_to_message_id == str(me["message_id"])  # the result answers the member's photo


def test_tryon_then_the_two_photos_even_across_a_restart(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/tryon")))
    assert replies(api) == [t("tryon.send_photos", minutes=10)]
    # Each ``run`` is a new application (a restarted bot): the request and the first photo live in the
    # database and the blob store.
    run(studio, settings, api.update_of(photo(api, ME)))
    assert replies(api)[-1] == t("tryon.send_garment", minutes=10) and queue.enqueued == []
    run(studio, settings, api.update_of(photo(api, TOP)))
    assert_me_wearing_top(studio, tryon_job(studio, queue))
    assert replies(api)[-1] == "Queued (position 1)."


def test_tryon_then_an_album_of_the_two_photos(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(
        studio,
        settings,
        api.update_of(api.text_message(CHAT, "/tryon")),
        api.update_of(photo(api, ME, media_group_id="album-3")),
        api.update_of(photo(api, TOP, media_group_id="album-3")),
    )
    assert_me_wearing_top(studio, tryon_job(studio, queue))
    assert replies(api) == [t("tryon.send_photos", minutes=10), "Queued (position 1)."]


def test_tryon_in_reply_to_my_photo_then_the_garment(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    me = photo(api, ME)
    command = api.text_message(CHAT, "/tryon", reply_to=me)
    run(studio, settings, api.update_of(me), api.update_of(command), api.update_of(photo(api, TOP)))
    assert_me_wearing_top(studio, tryon_job(studio, queue))
    assert replies(api)[1:] == [t("tryon.send_garment", minutes=10), "Queued (position 1)."]


def test_one_photo_only_then_another_command_and_its_photo_is_swept_later(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(
        studio,
        settings,
        api.update_of(photo(api, ME, caption="/tryon")),
        api.update_of(api.text_message(CHAT, "/unmask")),
        api.update_of(photo(api, TOP)),
    )
    assert replies(api)[0] == t("tryon.send_garment", minutes=10)
    assert [kind for _, _, kind in queue.enqueued] == ["unmask"]  # the other command took the next photo
    assert len(studio.blobs.keys(HELD_ROOT)) == 1
    later = utcnow() + timedelta(minutes=12)
    assert purge_expired(studio.store, studio.blobs, 7.0, later).held == 1
    assert studio.blobs.keys(HELD_ROOT) == []


def test_one_photo_only_then_the_time_runs_out(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    settings.studio.pending_command_ttl_s = 0
    run(studio, settings, api.update_of(photo(api, ME, caption="/tryon")))
    run(studio, settings, api.update_of(photo(api, TOP)))
    assert queue.enqueued == [] and replies(api)[-1].startswith("What should I do with this photo?")


def test_in_a_group_a_reply_to_another_members_photo_is_refused(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    group = {"id": -100777, "type": "supergroup", "title": "Friends"}
    theirs = api.photo_message(-100777, photo_bytes())
    theirs["chat"], theirs["from"] = group, {"id": 4242, "is_bot": False, "first_name": "Jun"}
    top = api.photo_message(-100777, photo_bytes(color=TOP), caption="/tryon")
    top["chat"], top["reply_to_message"] = group, theirs
    run(studio, settings, api.update_of(top))
    assert [sent.text for sent in api.sent_to(-100777, "sendMessage")] == [t("photo.not_yours")]
    assert queue.enqueued == [] and studio.blobs.keys(HELD_ROOT) == []


def test_the_result_comes_back_as_photo_and_file_with_try_again(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    me = photo(api, ME)
    run(studio, settings, api.update_of(me), api.update_of(photo(api, TOP, caption="/tryon", reply_to=me)))
    job = tryon_job(studio, queue)
    studio.store.start_attempt(job.id, 3, owner="test-worker")
    studio.blobs.put(result_key(job.id), png_bytes())
    assert studio.store.mark_done(job.id, result_key(job.id), None)

    async def deliver() -> bool:
        async with ExtBot(api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot") as bot:
            sender = TelegramResultSender(bot, settings.telegram)
            return await Deliverer(studio.store, studio.blobs, None, {"telegram": sender}).deliver(job.id)

    assert asyncio.run(asyncio.wait_for(deliver(), timeout=30))
    (sent,) = api.sent_to(CHAT, "sendPhoto")
    (document,) = api.sent_to(CHAT, "sendDocument")
    assert sent.text == t("tryon.caption") and sent.reply_to == me["message_id"]
    assert document.files["document"].data == studio.blobs.get(result_key(job.id))
    markup = sent.params["reply_markup"]
    labels = [b["text"] for row in markup["inline_keyboard"] for b in row]
    assert t("job.retry_button") in labels
