"""/suit on Telegram: options as arguments and as inline buttons, the example-suit reply, refusals. Real
``Update`` objects over HTTP to the local fake Bot API, the real studio; the job queue records."""

# ruff: noqa: F811  (pytest fixtures imported from the handler tests and used as arguments)
from __future__ import annotations

import io

from PIL import Image

from core.config import Settings
from core.imaging.idphoto.catalog import SuitOptions
from core.studio.service import Studio
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


def suit_job(studio: Studio, queue: MemoryQueue) -> tuple[str, SuitOptions]:
    assert len(queue.enqueued) == 1, queue.enqueued
    job_id, queue_name, kind = queue.enqueued[0]
    assert (queue_name, kind) == ("gpu", "suit")
    return job_id, SuitOptions.from_params(studio.job(job_id).params["options"])


def test_a_photo_with_suit_and_options_is_queued_with_them(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    photo = api.photo_message(CHAT, photo_bytes(), caption="/suit charcoal no-tie 3x4 grey")
    run(studio, settings, api.update_of(photo))
    _, options = suit_job(studio, queue)
    assert (options.style, options.tie, options.format, options.background) == (
        "charcoal",
        False,
        "kr-resume-30x40",
        "grey",
    )
    assert replies(api) == ["Queued (position 1)."]


def test_suit_alone_offers_buttons_that_change_the_choice_for_the_next_photo(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/suit")))
    (prompt,) = api.sent_to(CHAT, "sendMessage")
    assert "Navy, Tie, White background, Passport/visa 35×45 mm" in prompt.text
    buttons = [b for row in prompt.message["reply_markup"]["inline_keyboard"] for b in row]
    black = next(b for b in buttons if b["text"] == "Black")
    women = next(b for b in buttons if b["text"] == "Women's cut")
    blue = next(b for b in buttons if b["text"] == "Light blue")

    run(
        studio,
        settings,
        api.button_press(prompt.message, black["callback_data"]),
        api.button_press(prompt.message, women["callback_data"]),
        api.button_press(prompt.message, blue["callback_data"]),
    )
    edited = api.sent_to(CHAT, "editMessageText")[-1]
    assert "Black Women's cut, No tie, Light blue background" in edited.text
    chosen = [b["text"] for row in edited.message["reply_markup"]["inline_keyboard"] for b in row]
    assert {"● Black", "● Women's cut", "● Light blue", "● Passport/visa 35×45 mm"} <= set(chosen)
    assert queue.enqueued == []

    # Across a restart of the bot: the choice lives in the database.
    run(studio, settings, api.update_of(api.photo_message(CHAT, photo_bytes())))
    _, options = suit_job(studio, queue)
    assert (options.style, options.cut, options.tie, options.background) == ("black", "women", False, "blue")


def test_someone_elses_buttons_and_expired_buttons_change_nothing(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/suit black")))
    (prompt,) = api.sent_to(CHAT, "sendMessage")
    grey = next(
        b
        for row in prompt.message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "Light grey"
    )
    run(studio, settings, api.button_press(prompt.message, grey["callback_data"], user_id=CHAT + 1))
    assert api.answered[-1]["text"] == "These buttons belong to someone else."
    assert api.sent_to(CHAT, "editMessageText") == []

    run(studio, settings, api.update_of(api.photo_message(CHAT, photo_bytes())))  # uses the pending /suit
    _, options = suit_job(studio, queue)
    assert (options.style, options.background) == ("black", "white")
    run(studio, settings, api.button_press(prompt.message, grey["callback_data"]))
    assert api.answered[-1]["text"] == "These options have expired. Send /suit again."


def test_a_photo_of_a_suit_sent_as_a_reply_to_a_selfie_is_the_example(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    selfie = api.photo_message(CHAT, photo_bytes(400, 300, color="tan"))
    example = api.photo_message(CHAT, photo_bytes(300, 400, color="navy"), caption="/suit")
    example["reply_to_message"] = selfie
    run(studio, settings, api.update_of(selfie), api.update_of(example))

    job_id, _ = suit_job(studio, queue)
    job = studio.job(job_id)
    portrait = Image.open(io.BytesIO(studio.blobs.get(job.input_key)))
    exemplar = Image.open(io.BytesIO(studio.blobs.get(job.params["inputs"]["exemplar"])))
    assert (portrait.size, exemplar.size) == ((400, 300), (300, 400))
    assert job.reply_to_message_id == str(selfie["message_id"])


def test_unknown_and_disallowed_options_are_explained_in_the_users_language(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(
        studio,
        settings,
        api.update_of(api.photo_message(CHAT, photo_bytes(), caption="/suit purple")),
        api.update_of(api.text_message(CHAT, "/suit kr-passport blue", lang="ko")),
    )
    assert queue.enqueued == []
    assert replies(api)[0].startswith('I don\'t know the option "purple".')
    assert "흰색 배경만" in replies(api)[1]
