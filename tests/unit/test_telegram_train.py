"""/train, /done, /cancel, /settings and /forget on Telegram: real ``Update`` objects over HTTP to the local
fake Bot API, the real studio and database; the job queue records (the worker side has its own tests)."""

# ruff: noqa: F811  (pytest fixtures imported from the handler tests and used as arguments)
from __future__ import annotations

from typing import Any

from core.config import Settings
from core.ports import ChatRef
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
from tests.unit.test_training_service import accept_selfies

ME = ChatRef("telegram", str(CHAT), str(CHAT))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row}


def consent(api: FakeBotAPI, settings: Settings, studio: Studio) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/train")))
    prompt = api.sent_to(CHAT, "sendMessage")[-1]
    assert "Send only photos of yourself" in prompt.text
    run(studio, settings, api.button_press(prompt.message, buttons(prompt.message)["I agree"]))


def test_train_asks_for_consent_and_stores_nothing_before_it(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/train")))
    (prompt,) = api.sent_to(CHAT, "sendMessage")
    choices = buttons(prompt.message)
    assert set(choices) == {"I agree", "No, thanks"}

    # Photos before consent are not selfies: nothing is queued for training.
    run(studio, settings, api.update_of(api.photo_message(CHAT, photo_bytes())))
    assert queue.enqueued == [] and replies(api)[-1].startswith("What should I do with this photo?")

    # Another user's tap does nothing; "No, thanks" stores nothing.
    run(studio, settings, api.button_press(prompt.message, choices["I agree"], user_id=CHAT + 1))
    assert not studio.identities.training_state(ME).consented
    run(studio, settings, api.button_press(prompt.message, choices["No, thanks"]))
    assert api.sent_to(CHAT, "editMessageText")[-1].text.startswith("OK, nothing was stored.")
    assert not studio.identities.training_state(ME).consented


def test_after_consent_photos_are_selfies_even_across_a_restart(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    consent(api, settings, studio)
    assert "Send 5 to 20 selfies" in api.sent_to(CHAT, "editMessageText")[-1].text
    # ``run`` builds a new Application each time: a restarted bot still knows the upload is open.
    run(
        studio,
        settings,
        api.update_of(api.photo_message(CHAT, photo_bytes(), media_group_id="album-1")),
        api.update_of(api.photo_message(CHAT, photo_bytes(), media_group_id="album-1")),
    )
    assert [(q, k) for _, q, k in queue.enqueued] == [("cpu", "selfie")] * 2
    assert not [text for text in replies(api) if text.startswith("Queued")]  # the verdicts answer them


def test_done_needs_enough_selfies_then_queues_the_training(
    api: FakeBotAPI, settings: Settings, studio: Studio, queue: MemoryQueue
) -> None:
    consent(api, settings, studio)
    run(studio, settings, api.update_of(api.text_message(CHAT, "/done")))
    assert replies(api)[-1] == "I have 0 accepted selfies; I need at least 5. Please send more, then /done."

    accept_selfies(studio, ME, 5)
    run(studio, settings, api.update_of(api.text_message(CHAT, "/done")))
    assert replies(api)[-1].startswith("Training queued (position 1).")
    (_, queue_name, kind) = queue.enqueued[-1]
    assert (queue_name, kind) == ("train", "train")

    run(studio, settings, api.update_of(api.text_message(CHAT, "/cancel")))
    assert replies(api)[-1] == "Cancelled 1 job(s)."
    run(studio, settings, api.update_of(api.text_message(CHAT, "/cancel")))
    assert replies(api)[-1] == "Nothing to cancel."


def test_settings_toggle_with_buttons_for_their_owner_only(
    api: FakeBotAPI, settings: Settings, studio: Studio
) -> None:
    run(studio, settings, api.update_of(api.text_message(CHAT, "/settings")))
    prompt = api.sent_to(CHAT, "sendMessage")[-1]
    assert "Use my model in /unmask and /suit: on" in prompt.text
    toggle = buttons(prompt.message)["Use my model: on"]
    run(studio, settings, api.button_press(prompt.message, toggle, user_id=CHAT + 1))
    assert studio.identities.preferences(ME).use_identity
    run(studio, settings, api.button_press(prompt.message, toggle))
    assert not studio.identities.preferences(ME).use_identity
    assert "Use my model: off" in buttons(api.sent_to(CHAT, "editMessageText")[-1].message)


def test_forget_asks_then_says_what_it_deleted(api: FakeBotAPI, settings: Settings, studio: Studio) -> None:
    consent(api, settings, studio)
    accept_selfies(studio, ME, 2)
    run(studio, settings, api.update_of(api.text_message(CHAT, "/forget")))
    prompt = api.sent_to(CHAT, "sendMessage")[-1]
    run(studio, settings, api.button_press(prompt.message, buttons(prompt.message)["Keep it"]))
    assert api.sent_to(CHAT, "editMessageText")[-1].text == "Nothing was deleted."
    assert studio.store.selfie_count("telegram", str(CHAT)) == 2

    run(studio, settings, api.button_press(prompt.message, buttons(prompt.message)["Delete everything"]))
    done = api.sent_to(CHAT, "editMessageText")[-1].text
    assert done.startswith("Deleted: 2 selfie(s), 0 model(s), 0 job(s)")
    assert studio.store.selfie_count("telegram", str(CHAT)) == 0
    assert not studio.identities.training_state(ME).consented
