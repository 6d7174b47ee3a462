"""Conversations with the studio through the console front end: /start, /help, /unmask and /suit, their
photos and their mistakes. The studio is real (database, blob store, intake); the queue is in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import bots.chat_lines
from bots.chat_lines import NO_FILE, UNKNOWN_LINE
from core.blobs import input_key
from core.config import MB, ModelSettings
from core.errors import UserError
from core.imaging.idphoto.catalog import SuitOptions, parse_suit_options
from core.messages import t
from core.studio.commands import Upload
from tests.conversation import Conversation, jpeg

DRAWS_FACES = ModelSettings(face_prior="stylegan")  # every command of the table offered, /sketch too


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Conversation]:
    with Conversation(tmp_path) as conversation:
        yield conversation


@pytest.fixture
def masked(shared_data: Path) -> Path:
    return shared_data / "faces" / "with_mask" / "wm_005.jpg"


def test_start_and_help_answer_with_the_catalogue(tmp_path: Path) -> None:
    with Conversation(tmp_path, models=DRAWS_FACES) as chat:  # a server that offers every command
        assert chat.say("/start") == t("start") + "\n"
        assert chat.say("/help") == t("help") + "\n"
        assert chat.queue.enqueued == []


def test_the_conversation_is_in_the_chosen_language(tmp_path: Path) -> None:
    with Conversation(tmp_path, lang="ko", models=DRAWS_FACES) as chat:
        assert chat.say("/help") == t("help", "ko") + "\n"


def test_privacy_states_the_retention_rule_in_the_users_language(tmp_path: Path) -> None:
    with Conversation(tmp_path, lang="ko") as chat:
        chat.settings.studio.keep_days = 3
        answer = chat.say("/privacy")
    assert answer == t("privacy", "ko", days="3") + "\n"
    assert "3일" in answer and "/forget" in answer


def test_an_unknown_command_or_a_stray_word_gets_the_help(chat: Conversation) -> None:
    assert chat.say("/frobnicate") == t(UNKNOWN_LINE) + "\n"
    assert chat.say("hello") == t(UNKNOWN_LINE) + "\n"
    assert chat.say("7") == t(UNKNOWN_LINE) + "\n"  # no button [7] was printed
    assert chat.replies[0].error and chat.queue.enqueued == []


def test_blank_lines_and_comments_say_nothing(chat: Conversation) -> None:
    assert chat.say("") == chat.say("   ") == chat.say("# the operator's note") == ""


def test_unmask_with_a_photo_queues_a_job_with_a_cancel_button(chat: Conversation, masked: Path) -> None:
    said = chat.say(f"/unmask {masked}")
    job = chat.last_job
    assert said == f"{job.id[:8]} Queued (position 1).\n[1] Cancel\n"
    assert chat.queue.enqueued == [(job.id, "gpu", "unmask")]
    assert (job.kind, job.chat) == ("unmask", chat.chat)
    assert chat.studio.store.job_by_update_key(chat.front.key(1)) == job
    assert chat.studio.blobs.exists(input_key(job.id)) and job.input_key == input_key(job.id)
    assert job.params["source_format"] == "jpeg"
    assert job.status_message_id == "c1"  # progress edits print under this line


def test_unmask_then_the_photo_on_its_own_line(chat: Conversation, tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "later.jpg")
    assert chat.say("/unmask") == t("unmask.send_photo", minutes=10) + "\n"
    assert chat.queue.enqueued == []
    assert "Queued (position 1)." in chat.say(str(photo))
    assert chat.queue.kinds() == ["unmask"]
    # The pending /unmask was used up: the next bare photo is a question back.
    assert chat.say(str(photo)) == t("unmask.which_command") + "\n"
    assert len(chat.queue.enqueued) == 1


def test_a_file_that_is_not_a_photo_is_refused_by_intake(chat: Conversation, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture at all")
    assert chat.say(f"/unmask {notes}") == t("intake.not_image") + "\n"
    assert chat.replies[0].error
    assert chat.queue.enqueued == [] and chat.jobs() == []
    assert chat.studio.blobs.keys("inputs/") == []


def test_a_file_announced_too_large_is_refused_without_reading_it(
    chat: Conversation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as file:  # sparse: 30 MB announced, nothing written
        file.truncate(30 * MB)
    fetched: list[int] = []
    real_upload = bots.chat_lines.file_upload

    def spying_upload(path: Path) -> Upload:
        upload = real_upload(path)

        async def fetch(max_bytes: int) -> bytes:
            fetched.append(max_bytes)
            return await upload.fetch(max_bytes)

        return Upload(fetch=fetch, size=upload.size, filename=upload.filename)

    monkeypatch.setattr(bots.chat_lines, "file_upload", spying_upload)
    said = chat.say(f"/unmask {huge}")
    assert said == t("intake.too_large", size_mb=30, limit_mb=20) + "\n"
    assert fetched == [] and chat.jobs() == []


def test_a_file_that_grew_past_the_cap_is_cut_off_while_reading(tmp_path: Path) -> None:
    grown = tmp_path / "grown.jpg"
    grown.write_bytes(b"\xff" * 100)
    upload = bots.chat_lines.file_upload(grown)  # announced: 100 bytes
    grown.write_bytes(b"\xff" * 2048)

    async def fetch(max_bytes: int) -> bytes:
        return await upload.fetch(max_bytes)

    with pytest.raises(UserError) as refused:
        asyncio.run(fetch(1024))
    assert refused.value.key == "intake.too_large"
    assert asyncio.run(fetch(4096)) == grown.read_bytes()


def test_a_missing_file_is_answered_not_raised(chat: Conversation, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere.jpg"
    for line, path in (
        (f"/unmask {nowhere}", nowhere),
        (str(nowhere), nowhere),
        ("/suit gone.jpg", "gone.jpg"),
    ):
        said = chat.say(line)
        assert said == t(NO_FILE, path=str(path)) + "\n", line
        assert chat.replies[0].error
    assert chat.jobs() == []


def test_suit_with_words_stores_the_options_on_the_job(chat: Conversation, tmp_path: Path) -> None:
    photo, example = jpeg(tmp_path / "me.jpg"), jpeg(tmp_path / "suit.jpg", color=(20, 20, 40))
    said = chat.say(f"/suit {photo} charcoal no-tie 3x4 grey --example {example}")
    job = chat.last_job
    assert said == f"{job.id[:8]} Queued (position 1).\n[1] Cancel\n"
    assert chat.queue.enqueued == [(job.id, "gpu", "suit")]
    expected = parse_suit_options(["charcoal", "no-tie", "3x4", "grey"])
    assert SuitOptions.from_params(job.params["options"]) == expected
    assert job.params["inputs"] == {"exemplar": f"inputs/{job.id}.exemplar.png"}
    assert chat.studio.blobs.exists(job.params["inputs"]["exemplar"])


def test_suit_takes_the_example_as_example_equals_too(chat: Conversation, tmp_path: Path) -> None:
    photo, example = jpeg(tmp_path / "me.jpg"), jpeg(tmp_path / "suit.jpg")
    chat.say(f"/suit {photo} example={example} black")
    job = chat.last_job
    assert job.params["options"]["style"] == "black" and "exemplar" in job.params["inputs"]


def test_suit_with_an_unknown_word_names_it_and_queues_nothing(chat: Conversation, tmp_path: Path) -> None:
    said = chat.say(f"/suit {jpeg(tmp_path / 'me.jpg')} charcoal sparkly")
    assert said == t("suit.unknown_option", option="sparkly") + "\n"
    assert chat.replies[0].error and chat.jobs() == []


def test_suit_without_a_photo_shows_the_option_buttons_and_waits(chat: Conversation, tmp_path: Path) -> None:
    said = chat.say("/suit charcoal")
    options = parse_suit_options(["charcoal"])
    assert said.startswith(t("suit.send_photo", minutes=10, summary=options.summary("en")) + "\n")
    assert "[1] Navy  [2] ● Charcoal  [3] Black\n" in said
    assert chat.queue.enqueued == []
    chat.say(str(jpeg(tmp_path / "me.jpg")))
    assert chat.last_job.kind == "suit"
    assert SuitOptions.from_params(chat.last_job.params["options"]) == options


def test_the_same_line_sent_again_under_its_key_makes_no_second_job(chat: Conversation, masked: Path) -> None:
    first = chat.say(f"/unmask {masked}")
    assert "Queued (position 1)." in first
    assert chat.say(f"/unmask {masked}", key=chat.front.key(1)) == ""  # redelivered: already answered
    assert len(chat.queue.enqueued) == 1 and len(chat.jobs()) == 1
    assert "Queued (position 2)." in chat.say(f"/unmask {masked}")  # a new line is a new job


def test_a_second_console_run_on_the_same_data_makes_new_jobs(tmp_path: Path, masked: Path) -> None:
    with Conversation(tmp_path) as chat:
        chat.say(f"/unmask {masked}")
    with Conversation(tmp_path) as again:  # line 1 of another run: a key of its own
        assert "Queued (position 2)." in again.say(f"/unmask {masked}")
        assert len(again.jobs()) == 2
