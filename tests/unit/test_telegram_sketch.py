"""/sketch on Telegram: a photo or image file of a drawing captioned /sketch [strength] queues the job;
/sketch as text opens the canvas as a Mini App in a private chat when the operator set a public address, and
always says how to send a drawing instead; a server that cannot draw faces says so and leaves /sketch out of
the menu. Real ``Update`` objects over HTTP to the local fake Bot API, the real studio; the job queue
records."""

# ruff: noqa: F811  (pytest fixtures imported from the handler tests and used as arguments)
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from core.config import ModelSettings, Settings, WebSettings
from core.messages import t
from core.ports import JobView
from core.studio.service import Studio, bootstrap
from tests.e2e.fake_bot_api import FakeBotAPI, Sent
from tests.e2e.offline import photo_bytes
from tests.fakes import MemoryQueue
from tests.unit.test_telegram_handlers import CHAT, api, queue, replies, run  # noqa: F401
from tests.unit.test_telegram_handlers import settings as plain_settings  # noqa: F401

PUBLIC = "https://atelier.example.com"
GROUP = -100777


@pytest.fixture
def settings(plain_settings: Settings) -> Settings:
    """A server whose models draw faces, with a public address for the canvas."""
    return plain_settings.model_copy(
        update={
            "models": ModelSettings(face_prior="stylegan"),
            "web": WebSettings(public_url=PUBLIC, secret=SecretStr("canvas-secret")),
        }
    )


@pytest.fixture
def studio(settings: Settings, queue: MemoryQueue) -> Iterator[Studio]:
    studio = bootstrap(settings, queue=queue)
    yield studio
    studio.store.close()


def sketch_job(studio: Studio, queue: MemoryQueue) -> JobView:
    assert len(queue.enqueued) == 1, queue.enqueued
    job_id, queue_name, kind = queue.enqueued[0]
    assert (queue_name, kind) == ("gpu", "sketch")
    return studio.job(job_id)


def drawing(api: FakeBotAPI, caption: str | None = None) -> dict[str, Any]:
    return api.photo_message(CHAT, photo_bytes(color="white", fmt="PNG"), caption=caption)


def keyboard_of(sent: Sent) -> list[list[dict[str, Any]]]:
    return list((sent.params.get("reply_markup") or {}).get("inline_keyboard") or [])


def test_a_photo_captioned_sketch_with_a_strength_queues_the_job(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    message = drawing(api, "/sketch 0.7")
    run(studio, settings, api.update_of(message))
    job = sketch_job(studio, queue)
    assert job.params["options"]["strength"] == 0.7
    assert job.reply_to_message_id == str(message["message_id"])
    assert replies(api) == ["Queued (position 1)."]


def test_an_image_file_captioned_sketch_takes_the_default_strength(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    data = photo_bytes(color="white", fmt="PNG")
    message = api.document_message(CHAT, data, file_name="face.png", mime_type="image/png", caption="/sketch")
    run(studio, settings, api.update_of(message))
    assert sketch_job(studio, queue).params["options"]["strength"] == 0.6


def test_sketch_in_reply_to_a_drawing_paints_that_drawing(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    paper = drawing(api)
    command = api.text_message(CHAT, "/sketch 0.4", reply_to=paper)
    run(studio, settings, api.update_of(command))
    job = sketch_job(studio, queue)
    assert job.params["options"]["strength"] == 0.4
    assert job.reply_to_message_id == str(paper["message_id"])


def test_a_bad_strength_is_a_clear_sentence_and_no_job(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(studio, settings, api.update_of(drawing(api, "/sketch strong")))
    assert replies(api) == [t("sketch.bad_strength", word="strong")]
    assert queue.enqueued == [] and api.downloads == []  # refused before the download


def test_sketch_opens_the_canvas_as_a_mini_app_in_a_private_chat(
    api: FakeBotAPI, settings: Settings, studio: Studio
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/sketch")))
    (sent,) = api.sent_to(CHAT, "sendMessage")
    assert sent.text == f"{t('sketch.canvas')}\n{t('sketch.how')}"
    assert keyboard_of(sent) == [
        [{"text": t("sketch.canvas_button"), "web_app": {"url": f"{PUBLIC}/sketch"}}]
    ]


def test_without_a_public_address_sketch_only_explains_how_to_send_a_drawing(
    api: FakeBotAPI, settings: Settings, queue: MemoryQueue
) -> None:
    no_public = settings.model_copy(update={"web": settings.web.model_copy(update={"public_url": ""})})
    studio = bootstrap(no_public, queue=queue)
    try:
        run(studio, no_public, api.update_of(api.text_message(CHAT, "/sketch", lang="ko")))
    finally:
        studio.store.close()
    (sent,) = api.sent_to(CHAT, "sendMessage")
    assert sent.text == t("sketch.how", "ko") and keyboard_of(sent) == []


def test_in_a_group_sketch_shows_no_canvas_button(
    api: FakeBotAPI, settings: Settings, studio: Studio
) -> None:
    # Telegram opens Mini Apps from a message only in private chats; a group gets the way to send a drawing.
    message = api.text_message(GROUP, "/sketch")
    message["chat"] = {"id": GROUP, "type": "supergroup", "title": "Friends"}
    message["from"] = {"id": CHAT, "is_bot": False, "first_name": "Mina", "language_code": "en"}
    run(studio, settings, api.update_of(message))
    (sent,) = api.sent_to(GROUP, "sendMessage")
    assert sent.text == t("sketch.how") and keyboard_of(sent) == []


def test_sketch_is_in_the_menu_of_a_server_that_draws_faces(
    api: FakeBotAPI, settings: Settings, studio: Studio
) -> None:
    run(studio, settings)
    assert "sketch" in {c["command"] for c in api.commands[""]}
    assert "sketch" in {c["command"] for c in api.commands["ko"]}


def test_a_server_that_cannot_draw_faces_says_so_and_leaves_sketch_out_of_the_menu(
    api: FakeBotAPI, plain_settings: Settings, queue: MemoryQueue
) -> None:
    studio = bootstrap(plain_settings, queue=queue)  # the offline tier without the face prior
    try:
        run(
            studio,
            plain_settings,
            api.update_of(api.text_message(CHAT, "/sketch")),
            api.update_of(drawing(api, "/sketch 0.5")),
            api.update_of(api.text_message(CHAT, "/help")),
        )
    finally:
        studio.store.close()
    assert replies(api)[:2] == [t("sketch.unavailable")] * 2
    assert "/sketch" not in replies(api)[2] and "/tryon - " in replies(api)[2]
    assert queue.enqueued == [] and api.downloads == []
    assert "sketch" not in {c["command"] for c in api.commands[""]}
