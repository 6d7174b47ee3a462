"""Conversations that press buttons: the /suit options, Cancel and Try again on a job, /settings and
/forget; and a member of the same chat (``/as``) pressing buttons that are not theirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.blobs import input_key, result_key
from core.messages import t
from core.ports import JobState
from tests.conversation import Conversation, jpeg


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Conversation]:
    with Conversation(tmp_path) as conversation:
        yield conversation


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return jpeg(tmp_path / "me.jpg")


def pending_suit(chat: Conversation) -> dict[str, object]:
    pending = chat.studio.store.peek_command("console", "local", "operator")
    assert pending is not None and pending.command == "/suit"
    return pending.params


def test_a_suit_option_button_changes_the_pending_options(chat: Conversation, photo: Path) -> None:
    chat.say("/suit")
    said = chat.press("Charcoal")
    assert "Your choice: Charcoal, Tie, White background" in said
    assert "[1] Navy  [2] ● Charcoal  [3] Black\n" in said  # the same numbers, the choice marked
    assert chat.replies[0].replace
    chat.press("No tie")
    chat.press("Light grey")
    assert {k: pending_suit(chat)[k] for k in ("style", "tie", "background")} == {
        "style": "charcoal",
        "tie": False,
        "background": "grey",
    }
    chat.say(str(photo))
    assert chat.last_job.params["options"]["style"] == "charcoal"


def test_another_member_pressing_a_suit_button_is_refused_and_changes_nothing(chat: Conversation) -> None:
    chat.say("/suit")
    before = pending_suit(chat)
    chat.say("/as bob")
    assert chat.press("Black") == t("button.not_yours") + "\n"
    assert chat.replies[0].error
    chat.say("/as operator")
    assert pending_suit(chat) == before and before["style"] == "navy"


def test_the_cancel_button_cancels_just_that_job(chat: Conversation, photo: Path) -> None:
    chat.say(f"/unmask {photo}")
    first = chat.last_job
    chat.say(f"/unmask {photo}")
    second = chat.last_job
    assert chat.press("Cancel", job_id=first.id) == t("job.cancelled") + "\n"
    assert chat.studio.job(first.id).state is JobState.CANCELLED
    assert chat.studio.job(second.id).state is JobState.QUEUED
    assert chat.queue.discarded == [first.id]  # its broker message is taken back
    assert chat.press("Cancel", job_id=first.id) == t("job.already_finished") + "\n"


def test_another_member_cannot_cancel_my_job(chat: Conversation, photo: Path) -> None:
    chat.say(f"/unmask {photo}")
    job = chat.last_job
    chat.say("/as bob")
    assert chat.press("Cancel", job_id=job.id) == t("button.not_yours") + "\n"
    assert chat.studio.job(job.id).state is JobState.QUEUED and chat.queue.discarded == []


def test_a_finished_result_is_printed_with_its_file_and_a_try_again_button(
    chat: Conversation, photo: Path, tmp_path: Path
) -> None:
    chat.say(f"/unmask {photo}")
    job = chat.last_job
    said = chat.finish(job.id)
    result = tmp_path / "out" / f"{job.id}.png"
    assert said.startswith(f"{job.id[:8]} {t('result.caption')} → {result}\n[2] Try again\n")
    assert result.read_bytes() == chat.studio.blobs.get(result_key(job.id))


def test_try_again_queues_a_new_job_on_a_copy_of_the_input_with_a_new_seed(
    chat: Conversation, tmp_path: Path
) -> None:
    chat.say(f"/suit {jpeg(tmp_path / 'me.jpg')} charcoal 3x4")
    job = chat.last_job
    chat.finish(job.id)
    said = chat.press("Try again")
    again = chat.last_job
    assert again.id != job.id and said == f"{again.id[:8]} Queued (position 1).\n[3] Cancel\n"
    assert chat.queue.enqueued[-1] == (again.id, "gpu", "suit")
    assert again.input_key == input_key(again.id)
    assert chat.studio.blobs.get(again.input_key) == chat.studio.blobs.get(job.input_key)
    old, new = job.params["options"], again.params["options"]
    assert {k: v for k, v in new.items() if k != "seed"} == old and "seed" not in old
    chat.finish(again.id)
    chat.press("Try again", job_id=again.id)
    assert chat.last_job.params["options"]["seed"] != new["seed"]
    assert chat.studio.job(job.id).state is JobState.DONE  # the first result stays as it was


def test_another_member_cannot_try_my_job_again(chat: Conversation, photo: Path) -> None:
    chat.say(f"/unmask {photo}")
    chat.finish(chat.last_job.id)
    chat.say("/as bob")
    assert chat.press("Try again") == t("button.not_yours") + "\n"
    assert len(chat.queue.enqueued) == 1 and chat.jobs("bob") == []


def test_settings_buttons_toggle_a_preference(chat: Conversation) -> None:
    said = chat.say("/settings")
    assert "[1] Use my model: on\n[2] Keep my selfies: off\n" in said
    said = chat.press("Use my model: on")
    assert "Use my model in /unmask and /suit: off" in said and chat.replies[0].replace
    prefs = chat.studio.identities.preferences(chat.chat)
    assert (prefs.use_identity, prefs.keep_selfies) == (False, False)
    chat.press("Keep my selfies: off")
    assert chat.studio.identities.preferences(chat.chat).keep_selfies


def test_forget_with_the_confirm_button_deletes_my_jobs_and_files(chat: Conversation, photo: Path) -> None:
    chat.say(f"/unmask {photo}")
    done = chat.last_job
    chat.finish(done.id)
    chat.say(f"/unmask {photo}")
    chat.say("/as bob")
    chat.say(f"/unmask {photo}")
    bobs = chat.last_job
    chat.say("/as operator")
    said = chat.say("/forget")
    assert said.startswith(t("forget.confirm") + "\n")
    said = chat.press("Delete everything")
    expected = t("forget.done", selfies=0, models=0, jobs=2, files=3, cancelled=1)
    assert said == expected + "\n"
    assert chat.jobs() == []
    assert chat.studio.blobs.keys("inputs/") == [bobs.input_key]  # bob's photo is bob's
    assert chat.studio.blobs.keys("results/") == []


def test_forget_keep_it_deletes_nothing(chat: Conversation, photo: Path) -> None:
    chat.say(f"/unmask {photo}")
    chat.say("/forget")
    assert chat.press("Keep it") == t("forget.kept") + "\n"
    assert len(chat.jobs()) == 1 and chat.studio.blobs.keys("inputs/") != []


def test_another_member_cannot_confirm_my_forget(chat: Conversation, photo: Path) -> None:
    chat.say(f"/unmask {photo}")
    chat.say("/forget")
    chat.say("/as bob")
    assert chat.press("Delete everything") == t("button.not_yours") + "\n"
    assert len(chat.jobs("operator")) == 1
