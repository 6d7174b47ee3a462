"""Conversations about the personal model and the jobs in flight: /train (consent, selfies), /done, /status
and /cancel. The conversation's settings ask for 3 to 6 selfies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.messages import t
from core.ports import JobState
from core.studio.training import CONSENT_VERSION
from tests.conversation import Conversation, jpeg


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Conversation]:
    with Conversation(tmp_path) as conversation:
        yield conversation


@pytest.fixture
def selfies(tmp_path: Path) -> list[Path]:
    return [jpeg(tmp_path / f"selfie{i}.jpg", color=(180, 130 + 10 * i, 110)) for i in range(3)]


def consented(chat: Conversation) -> bool:
    return chat.studio.store.has_consent("console", chat.chat.user_id, CONSENT_VERSION)


def test_train_asks_for_consent_with_buttons(chat: Conversation) -> None:
    said = chat.say("/train")
    assert said == t("train.consent") + "\n[1] I agree  [2] No, thanks\n"
    assert not consented(chat)


def test_i_agree_records_consent_and_opens_the_upload(chat: Conversation) -> None:
    chat.say("/train")
    said = chat.press("I agree")
    assert said == t("train.send_selfies", min=3, max=6, count=0) + "\n"
    assert consented(chat) and chat.studio.identities.collecting_selfies(chat.chat)


def test_no_thanks_records_nothing(chat: Conversation) -> None:
    chat.say("/train")
    assert chat.press("No, thanks") == t("train.declined") + "\n"
    assert not consented(chat)


def test_another_member_cannot_agree_for_me(chat: Conversation) -> None:
    chat.say("/train")
    chat.say("/as bob")
    assert chat.press("I agree") == t("button.not_yours") + "\n"
    assert not consented(chat) and not chat.studio.store.has_consent("console", "operator", CONSENT_VERSION)


def test_train_before_consent_stores_nothing(chat: Conversation, selfies: list[Path]) -> None:
    said = chat.say("/train " + " ".join(map(str, selfies)))
    assert said.startswith(t("train.consent") + "\n")
    assert chat.queue.enqueued == [] and chat.jobs() == []
    assert chat.studio.blobs.keys("inputs/") == []


def test_train_with_photos_queues_one_selfie_check_each(chat: Conversation, selfies: list[Path]) -> None:
    chat.say("/train")
    chat.press("I agree")
    said = chat.say("/train " + " ".join(map(str, selfies[:2])))
    assert said == t("train.checking", count=2) + "\n"
    assert chat.queue.kinds() == ["selfie", "selfie"]
    # Later photos, one by one, are selfies too while the upload is open.
    assert chat.say(str(selfies[2])) == ""  # its verdict comes as the job's result
    assert chat.queue.kinds() == ["selfie"] * 3
    assert {job.kind for job in chat.jobs()} == {"selfie"}


def test_train_names_each_photo_it_cannot_use(
    chat: Conversation, selfies: list[Path], tmp_path: Path
) -> None:
    chat.say("/train")
    chat.press("I agree")
    notes = tmp_path / "notes.png"
    notes.write_text("no picture")
    said = chat.say(f"/train {selfies[0]} {notes}")
    refused = t("train.photo_refused", number=2, reason=t("intake.not_image"))
    assert said == t("train.checking", count=1) + "\n" + refused + "\n"
    assert chat.queue.kinds() == ["selfie"]


def test_done_with_too_few_selfies_says_how_many(chat: Conversation) -> None:
    chat.say("/train")
    chat.press("I agree")
    chat.accept_selfies(2)
    assert chat.say("/done") == t("train.need_more", have=2, need=3) + "\n"
    assert chat.replies[0].error and chat.queue.enqueued == []


def test_done_with_enough_selfies_queues_the_training(chat: Conversation) -> None:
    chat.say("/train")
    chat.press("I agree")
    chat.accept_selfies(3)
    said = chat.say("/done")
    job = chat.last_job
    assert said == f"{job.id[:8]} {t('train.queued', position=1)}\n[3] Cancel\n"
    assert chat.queue.enqueued == [(job.id, "train", "train")]
    assert job.params["options"]["selfies"] == ["operators0", "operators1", "operators2"]
    assert not chat.studio.identities.collecting_selfies(chat.chat)  # the upload is over


def test_status_shows_the_active_jobs_and_the_model(chat: Conversation, tmp_path: Path) -> None:
    assert chat.say("/status") == t("status.idle") + "\n" + t("status.no_model") + "\n"
    photo = jpeg(tmp_path / "me.jpg")
    chat.say(f"/unmask {photo}")
    chat.say(f"/suit {photo}")
    said = chat.say("/status")
    assert said.splitlines() == [
        t("status.queued", what="/suit", position=2),
        t("status.queued", what="/unmask", position=1),
        t("status.no_model"),
    ]
    chat.say("/train")
    chat.press("I agree")
    chat.accept_selfies(2)
    assert said.splitlines()[-1] != chat.say("/status").splitlines()[-1]
    assert chat.say("/status").splitlines()[-1] == t("status.collecting", count=2, min=3)


def test_cancel_cancels_my_active_jobs_only(chat: Conversation, tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "me.jpg")
    chat.say(f"/unmask {photo}")
    chat.say(f"/unmask {photo}")
    chat.say("/as bob")
    chat.say(f"/unmask {photo}")
    bobs = chat.last_job
    chat.say("/as operator")
    assert chat.say("/cancel") == t("cancel.done", count=2) + "\n"
    assert {job.state for job in chat.jobs()} == {JobState.CANCELLED}
    assert chat.studio.job(bobs.id).state is JobState.QUEUED
    assert chat.say("/cancel") == t("cancel.nothing") + "\n"
