"""The Telegram routing and callbacks, fed real ``Update`` objects; every request the bot makes goes over HTTP
to the local fake Bot API, and any other connection fails the test. The studio is the real one (SQLite in a
temp dir); only the job queue is a recording double."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.telegram.app import build_application
from core.config import Settings
from core.messages import t
from core.ports import ChatRef
from core.store import JobStore
from core.studio.service import Studio, bootstrap
from tests.e2e.fake_bot_api import FakeBotAPI
from tests.e2e.offline import photo_bytes, refuse_network
from tests.e2e.telegram_harness import (
    feed,
    initialized,
    make_settings,
)
from tests.fakes import MemoryQueue

CHAT = 5550001


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotAPI]:
    refuse_network(monkeypatch)
    with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, api: FakeBotAPI) -> Settings:
    return make_settings(tmp_path, api.url)


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def studio(settings: Settings, queue: MemoryQueue) -> Iterator[Studio]:
    studio = bootstrap(settings, queue=queue)
    yield studio
    studio.store.close()


def run(studio: Studio, settings: Settings, *updates: dict) -> None:
    async def scenario() -> None:
        async with initialized(settings, studio) as application:
            for update in updates:
                await feed(application, update)

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def replies(api: FakeBotAPI) -> list[str]:
    return [sent.text for sent in api.sent_to(CHAT, "sendMessage")]


def only_job(store: JobStore, queue: MemoryQueue) -> str:
    assert len(queue.enqueued) == 1, queue.enqueued
    job_id, queue_name, kind = queue.enqueued[0]
    assert (queue_name, kind) == ("gpu", "unmask")
    return job_id


def test_the_network_guard_itself_refuses_outside_addresses(api: FakeBotAPI) -> None:
    import socket

    with socket.socket() as sock, pytest.raises(AssertionError, match="network"):
        sock.connect(("192.0.2.1", 443))


def test_start_and_help_answer_in_the_users_language(
    api: FakeBotAPI, settings: Settings, studio: Studio
) -> None:
    run(
        studio,
        settings,
        api.update_of(api.text_message(CHAT, "/start", lang="ko-KR")),
        api.update_of(api.text_message(CHAT, "/help", lang="en")),
    )
    assert replies(api)[0].startswith("안녕하세요")
    assert replies(api)[1].startswith("What I can do")


def test_the_command_menu_is_set_in_english_and_korean(
    api: FakeBotAPI, settings: Settings, studio: Studio
) -> None:
    run(studio, settings)
    assert {c["command"] for c in api.commands[""]} == {
        "start",
        "help",
        "unmask",
        "suit",
        "tryon",
        "train",
        "done",
        "status",
        "cancel",
        "settings",
        "forget",
        "privacy",
    }
    assert "마스크" in next(c["description"] for c in api.commands["ko"] if c["command"] == "unmask")


def test_admin_is_in_the_operators_own_menu_only_and_answers_them_alone(
    api: FakeBotAPI, tmp_path: Path, queue: MemoryQueue
) -> None:
    base = make_settings(tmp_path, api.url)
    settings = base.model_copy(
        update={"studio": base.studio.model_copy(update={"operators": [f"telegram:{CHAT}"]})}
    )
    studio = bootstrap(settings, queue=queue)
    stranger = CHAT + 1
    try:
        run(
            studio,
            settings,
            api.update_of(api.text_message(CHAT, "/admin pause")),
            api.update_of(api.text_message(stranger, "/admin resume")),
            api.update_of(api.photo_message(stranger, photo_bytes(), caption="/unmask")),
        )
        assert studio.store.switch("paused")
    finally:
        studio.store.close()
    assert replies(api) == [t("admin.paused")]
    assert [sent.text for sent in api.sent_to(stranger, "sendMessage")] == [
        t("admin.refused"),
        t("studio.paused"),
    ]
    assert "admin" not in {c["command"] for c in api.commands[""]}
    assert {c["command"] for c in api.chat_commands[(str(CHAT), "")]} >= {"admin", "unmask", "privacy"}
    assert "운영자" in next(
        c["description"] for c in api.chat_commands[(str(CHAT), "ko")] if c["command"] == "admin"
    )


def test_a_photo_with_the_caption_is_queued_from_its_largest_size(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    photo = api.photo_message(CHAT, photo_bytes(800, 600), caption="/unmask")
    run(studio, settings, api.update_of(photo))

    job = studio.job(only_job(studio.store, queue))
    assert api.downloads == [f"photos/file_{len(photo['photo'])}.bin"]  # the last (largest) size only
    assert (job.params["width"], job.params["height"]) == (800, 600)
    assert replies(api) == ["Queued (position 1)."]
    status = api.sent_to(CHAT, "sendMessage")[0]
    assert job.status_message_id == str(status.message["message_id"])
    assert job.reply_to_message_id == str(photo["message_id"])
    assert (job.chat.platform, job.chat.chat_id, job.chat.lang) == ("telegram", str(CHAT), "en")


def test_unmask_as_a_reply_to_an_earlier_photo(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    photo = api.photo_message(CHAT, photo_bytes())
    command = api.text_message(CHAT, "/unmask", reply_to=photo)
    run(studio, settings, api.update_of(photo), api.update_of(command))

    job = studio.job(only_job(studio.store, queue))
    assert replies(api)[0].startswith("What should I do with this photo?")
    assert replies(api)[1] == "Queued (position 1)."
    assert job.reply_to_message_id == str(photo["message_id"])


def test_unmask_first_then_the_photo_even_across_a_restart(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/unmask", lang="ko")))
    assert queue.enqueued == [] and replies(api) == ["이제 10분 안에 사진(사진 또는 파일)을 보내 주세요."]
    # A new application (the bot restarted): the pending command lives in the database.
    run(studio, settings, api.update_of(api.photo_message(CHAT, photo_bytes(), lang="ko")))
    only_job(studio.store, queue)
    assert replies(api)[-1] == "대기열에 추가되었습니다 (1번째)."
    # The pending command was used up: the next bare photo is a question again.
    run(studio, settings, api.update_of(api.photo_message(CHAT, photo_bytes(), lang="ko")))
    assert len(queue.enqueued) == 1 and "무엇을" in replies(api)[-1]


def test_photos_shared_in_a_group_without_a_command_are_left_alone(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    photo = api.photo_message(CHAT, photo_bytes())
    photo["chat"] = {"id": -100123, "type": "supergroup", "title": "Friends"}
    command = api.text_message(CHAT, "/unmask@atelier_test_bot", reply_to=photo)
    command["chat"] = photo["chat"]
    run(studio, settings, api.update_of(photo), api.update_of(command))
    only_job(studio.store, queue)
    assert [s.text for s in api.sent_to(-100123)] == ["Queued (position 1)."]


@pytest.mark.parametrize(("file_name", "mime_type"), [("selfie.png", "image/png"), ("IMG_0001", None)])
def test_an_image_sent_as_a_file(
    api: FakeBotAPI,
    settings: Settings,
    studio: Studio,
    queue: MemoryQueue,
    file_name: str,
    mime_type: str | None,
) -> None:
    document = api.document_message(
        CHAT, photo_bytes(fmt="PNG"), file_name=file_name, mime_type=mime_type, caption="/unmask"
    )
    run(studio, settings, api.update_of(document))
    assert studio.job(only_job(studio.store, queue)).params["source_format"] == "png"
    assert replies(api) == ["Queued (position 1)."]


def test_a_non_image_file_is_refused_before_download(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    pdf = api.document_message(CHAT, b"%PDF-1.7 ...", file_name="cv.pdf", mime_type="application/pdf")
    run(studio, settings, api.update_of(api.text_message(CHAT, "/unmask")), api.update_of(pdf))
    assert replies(api)[-1].startswith("This file is not a photo I can read.")
    assert api.downloads == [] and queue.enqueued == []


def test_a_file_that_only_claims_to_be_an_image_is_sniffed(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    fake = api.document_message(
        CHAT, b"MZ\x90\x00 not a picture", file_name="photo.jpg", mime_type="image/jpeg", caption="/unmask"
    )
    run(studio, settings, api.update_of(fake))
    assert len(api.downloads) == 1 and queue.enqueued == []
    assert replies(api) == ["This file is not a photo I can read. Please send a JPEG, PNG or WebP image."]


def test_b3_a_file_declared_over_the_limit_is_refused_before_any_download(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    photo = api.photo_message(CHAT, photo_bytes(), caption="/unmask", declared_size=25 * 1024 * 1024)
    run(studio, settings, api.update_of(photo))
    assert replies(api) == ["This file is 25 MB; the limit is 20 MB. Please send a smaller photo."]
    assert api.count_calls("getFile") == 0 and api.downloads == [] and queue.enqueued == []


def test_b3_the_lower_of_the_telegram_and_intake_limits_applies_while_streaming(
    tmp_path: Path, api: FakeBotAPI, queue: MemoryQueue
) -> None:
    settings = make_settings(tmp_path, api.url, max_download_bytes=200_000)
    studio = bootstrap(settings, queue=queue)
    # The message understates the size; the download itself is cut off at the cap.
    photo = api.photo_message(
        CHAT, photo_bytes(400, 300, fmt="PNG", noise=True), caption="/unmask", declared_size=90_000
    )
    run(studio, settings, api.update_of(photo))
    assert queue.enqueued == [] and "the limit is 0.2 MB" in replies(api)[0]
    studio.store.close()


def test_b1_the_same_update_twice_makes_one_job_and_one_reply(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    update = api.update_of(api.photo_message(CHAT, photo_bytes(), caption="/unmask"))
    run(studio, settings, update, update)
    only_job(studio.store, queue)
    assert replies(api) == ["Queued (position 1)."]


def test_positions_count_the_jobs_ahead(api: FakeBotAPI, settings: Settings, studio: Studio) -> None:
    run(
        studio,
        settings,
        *(api.update_of(api.photo_message(CHAT, photo_bytes(), caption="/unmask")) for _ in range(3)),
    )
    assert replies(api) == ["Queued (position 1).", "Queued (position 2).", "Queued (position 3)."]


def test_an_unexpected_error_is_logged_with_its_traceback_and_apologised_for(
    api: FakeBotAPI, settings: Settings, studio: Studio, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail("getFile", code=500, description="Internal Server Error")
    with caplog.at_level(logging.ERROR, logger="bots.telegram.handlers"):
        run(studio, settings, api.update_of(api.photo_message(CHAT, photo_bytes(), caption="/unmask")))
    (record,) = [r for r in caplog.records if r.name == "bots.telegram.handlers"]
    error_id = str(record.args[1]) if isinstance(record.args, tuple) else ""
    assert record.exc_info is not None and len(error_id) == 8
    assert replies(api) == [
        f"Sorry, something went wrong on our side (error id {error_id}). Please try again later."
    ]


def test_the_bot_needs_a_token(tmp_path: Path, studio: Studio) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9")
    settings.telegram.token = None
    with pytest.raises(ValueError, match="token"):
        build_application(settings, studio)


# Telegram's stand-ins for senders it hides: every anonymous group admin, and everyone who posts as a channel.
GROUP_ANONYMOUS_BOT, CHANNEL_BOT = 1087968824, 136817688


def _as_hidden_sender(message: dict, stand_in: int, sender_chat: dict) -> dict:
    message["from"] = {"id": stand_in, "is_bot": True, "first_name": "Group"}
    message["sender_chat"] = sender_chat
    return message


def test_hidden_senders_in_different_chats_are_different_users(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    """Telegram gives every anonymous admin (and every post "as a channel") the same stand-in user: the
    chat they speak for is who they are, never the stand-in shared with strangers elsewhere."""
    senders = []
    for group, stand_in, sender_chat in (
        (-1001, GROUP_ANONYMOUS_BOT, {"id": -1001, "type": "supergroup", "title": "A"}),
        (-1002, GROUP_ANONYMOUS_BOT, {"id": -1002, "type": "supergroup", "title": "B"}),
        (-1002, CHANNEL_BOT, {"id": -1003, "type": "channel", "title": "C"}),
    ):
        photo = api.photo_message(group, photo_bytes(), caption="/unmask")
        photo["chat"] = {"id": group, "type": "supergroup", "title": "group"}
        run(studio, settings, api.update_of(_as_hidden_sender(photo, stand_in, sender_chat)))
        senders.append(studio.job(queue.enqueued[-1][0]).chat.user_id)
    assert senders == ["-1001", "-1002", "-1003"]
    assert studio.active_jobs(ChatRef("telegram", str(GROUP_ANONYMOUS_BOT), "-1001", "en")) == []


@pytest.mark.parametrize("command", ["/unmask", "/suit"])
def test_a_reply_to_another_members_photo_is_refused(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue, command: str
) -> None:
    """In a group, the photo belongs to the member who sent it: nobody else can have their face processed
    (and, it being under the replier's account, the photographed member could not /forget it)."""
    group = {"id": -100777, "type": "supergroup", "title": "Friends"}
    theirs = api.photo_message(-100777, photo_bytes())
    theirs["chat"], theirs["from"] = group, {"id": 4242, "is_bot": False, "first_name": "Jun"}
    reply = api.text_message(-100777, command, reply_to=theirs)
    reply["chat"] = group
    mine = api.photo_message(-100777, photo_bytes())
    mine["chat"] = group
    own_reply = api.text_message(-100777, command, reply_to=mine)
    own_reply["chat"] = group
    run(studio, settings, api.update_of(reply), api.update_of(own_reply))
    assert len(api.downloads) == 1 and len(queue.enqueued) == 1  # only the replier's own photo
    answers = [sent.text for sent in api.sent_to(-100777, "sendMessage")]
    assert answers[0] == t("photo.not_yours", "en")


def test_in_a_private_chat_a_reply_to_the_bots_own_result_is_processed(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    result = api.photo_message(CHAT, photo_bytes())
    result["from"] = {"id": 999, "is_bot": True, "first_name": "Atelier"}
    run(studio, settings, api.update_of(api.text_message(CHAT, "/suit", reply_to=result)))
    assert len(queue.enqueued) == 1
