"""/tryon through the console: both photos on one line, or /tryon and then the photos one at a time, the
first kept until the second arrives (and swept when it never does); Try again, the pause and the quotas.
The studio is real (database, blob store, intake); the queue is in memory."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from core.blobs import HELD_ROOT, extra_input_key
from core.messages import t
from core.retention import purge_expired
from core.store import PAUSED
from core.store.models import utcnow
from tests.conversation import Conversation, jpeg

SKIN, SHIRT = (190, 140, 120), (30, 60, 160)


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Conversation]:
    with Conversation(tmp_path) as conversation:
        yield conversation


@pytest.fixture
def me(tmp_path: Path) -> Path:
    return jpeg(tmp_path / "me.jpg", color=SKIN)


@pytest.fixture
def shirt(tmp_path: Path) -> Path:
    return jpeg(tmp_path / "shirt.jpg", color=SHIRT)


def colour(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        r, g, b = image.convert("RGB").getpixel((8, 8))  # type: ignore[misc]
    return r, g, b


def looks(data: bytes, expected: tuple[int, int, int]) -> bool:
    """The stored picture is the photo of that colour (JPEG moves a flat colour by a step or two)."""
    return all(abs(a - b) <= 4 for a, b in zip(colour(data), expected, strict=True))


def held(chat: Conversation) -> list[str]:
    return chat.studio.blobs.keys(HELD_ROOT)


def assert_tryon_of(chat: Conversation, person: tuple[int, int, int], garment: tuple[int, int, int]) -> None:
    job = chat.last_job
    assert chat.queue.enqueued[-1] == (job.id, "gpu", "tryon")
    assert job.params["inputs"] == {"garment": extra_input_key(job.id, "garment")}
    assert looks(chat.studio.blobs.get(job.input_key), person)
    assert looks(chat.studio.blobs.get(job.params["inputs"]["garment"]), garment)


def test_tryon_with_both_photos_queues_one_job_the_photo_first_then_the_garment(
    chat: Conversation, me: Path, shirt: Path
) -> None:
    said = chat.say(f"/tryon {me} {shirt}")
    job = chat.last_job
    assert said == f"{job.id[:8]} Queued (position 1).\n[1] Cancel\n"
    assert_tryon_of(chat, SKIN, SHIRT)
    assert held(chat) == []


def test_the_result_has_its_caption_and_try_again_paints_the_same_two_photos_again(
    chat: Conversation, me: Path, shirt: Path, tmp_path: Path
) -> None:
    chat.say(f"/tryon {me} {shirt}")
    job = chat.last_job
    said = chat.finish(job.id)
    assert said.startswith(f"{job.id[:8]} {t('tryon.caption')} → {tmp_path / 'out' / f'{job.id}.png'}\n")
    assert "[2] Try again\n" in said
    chat.press("Try again")
    again = chat.last_job
    assert again.id != job.id and chat.queue.enqueued[-1] == (again.id, "gpu", "tryon")
    garment = chat.studio.blobs.get(again.params["inputs"]["garment"])
    assert garment == chat.studio.blobs.get(job.params["inputs"]["garment"])


def test_tryon_alone_asks_for_both_photos_and_keeps_the_first_until_the_second(
    chat: Conversation, me: Path, shirt: Path
) -> None:
    assert chat.say("/tryon") == t("tryon.send_photos", minutes=10) + "\n"
    assert chat.say(str(me)) == t("tryon.send_garment", minutes=10) + "\n"
    assert chat.queue.enqueued == [] and len(held(chat)) == 1
    assert "Queued (position 1)." in chat.say(str(shirt))
    assert_tryon_of(chat, SKIN, SHIRT)
    assert held(chat) == []  # the job has its own copy
    # The request was used up: the next bare photo is a question back.
    assert chat.say(str(me)) == t("unmask.which_command") + "\n"
    assert len(chat.queue.enqueued) == 1


def test_tryon_with_my_photo_only_waits_for_the_garment(chat: Conversation, me: Path, shirt: Path) -> None:
    assert chat.say(f"/tryon {me}") == t("tryon.send_garment", minutes=10) + "\n"
    assert chat.queue.enqueued == []
    assert "Queued (position 1)." in chat.say(str(shirt))
    assert_tryon_of(chat, SKIN, SHIRT)


def test_the_first_photo_delivered_twice_is_not_taken_for_the_garment(
    chat: Conversation, me: Path, shirt: Path
) -> None:
    chat.say("/tryon")
    chat.say(str(me))
    assert chat.say(str(me), key=chat.front.key(2)) == ""  # the platform sent the same update again
    assert chat.queue.enqueued == [] and len(held(chat)) == 1
    chat.say(str(shirt))
    assert_tryon_of(chat, SKIN, SHIRT)


def test_a_refused_garment_keeps_my_photo_for_the_next_try(
    chat: Conversation, me: Path, shirt: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture at all")
    chat.say(f"/tryon {me}")
    assert chat.say(str(notes)) == t("intake.not_image") + "\n"
    assert chat.replies[0].error and chat.queue.enqueued == []
    assert "Queued (position 1)." in chat.say(str(shirt))
    assert_tryon_of(chat, SKIN, SHIRT)


def test_a_first_photo_that_is_no_photo_is_refused_at_once(chat: Conversation, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture at all")
    assert chat.say(f"/tryon {notes}") == t("intake.not_image") + "\n"
    assert held(chat) == [] and chat.studio.store.peek_command("console", "local", "operator") is None


def test_one_photo_then_another_command_leaves_nothing_behind_once_its_time_is_up(
    chat: Conversation, me: Path, shirt: Path
) -> None:
    chat.say(f"/tryon {me}")
    chat.say("/unmask")
    assert "Queued (position 1)." in chat.say(str(shirt))
    assert chat.queue.kinds() == ["unmask"]
    keep = chat.settings.studio.keep_days
    assert purge_expired(chat.studio.store, chat.studio.blobs, keep).held == 0 and len(held(chat)) == 1
    later = utcnow() + timedelta(minutes=12)
    assert purge_expired(chat.studio.store, chat.studio.blobs, keep, later).held == 1
    assert held(chat) == []


def test_one_photo_and_then_nothing_the_request_lapses(chat: Conversation, me: Path, shirt: Path) -> None:
    chat.settings.studio.pending_command_ttl_s = 0  # every request lapses at once
    chat.say(f"/tryon {me}")
    assert chat.say(str(shirt)) == t("unmask.which_command") + "\n"
    assert chat.queue.enqueued == []
    later = utcnow() + timedelta(minutes=2)
    assert purge_expired(chat.studio.store, chat.studio.blobs, 7.0, later).held == 1
    assert held(chat) == []


def test_the_pause_and_the_quotas_apply(chat: Conversation, me: Path, shirt: Path) -> None:
    chat.studio.store.set_switch(PAUSED, True, "console:admin")
    assert chat.say(f"/tryon {me} {shirt}") == t("studio.paused") + "\n"
    assert chat.say(f"/tryon {me}") == t("studio.paused") + "\n"  # before the first photo is kept
    assert chat.queue.enqueued == [] and held(chat) == []
    chat.studio.store.set_switch(PAUSED, False, "console:admin")
    chat.settings.studio.max_active_per_user = 1
    assert "Queued (position 1)." in chat.say(f"/tryon {me} {shirt}")
    assert chat.say(f"/tryon {me} {shirt}") == t("quota.active", count=1) + "\n"
    assert len(chat.queue.enqueued) == 1


def test_forget_deletes_a_photo_waiting_for_its_garment(chat: Conversation, me: Path) -> None:
    chat.say(f"/tryon {me}")
    assert len(held(chat)) == 1
    chat.say("/forget")
    chat.press("Delete everything")
    assert held(chat) == []
    assert chat.studio.store.peek_command("console", "local", "operator") is None


def test_status_names_a_tryon_job(chat: Conversation, me: Path, shirt: Path) -> None:
    chat.say(f"/tryon {me} {shirt}")
    assert t("status.queued", what=t("status.kind.tryon"), position=1) in chat.say("/status")


def test_tryon_speaks_korean(tmp_path: Path, me: Path) -> None:
    with Conversation(tmp_path, lang="ko") as chat:
        assert chat.say("/tryon") == t("tryon.send_photos", "ko", minutes=10) + "\n"
        assert chat.say(str(me)) == t("tryon.send_garment", "ko", minutes=10) + "\n"


def test_a_first_photo_gone_meanwhile_is_said_plainly(chat: Conversation, me: Path, shirt: Path) -> None:
    chat.say(f"/tryon {me}")
    (key,) = held(chat)
    chat.studio.blobs.delete(key)  # a sweep got to it first
    assert chat.say(str(shirt)) == t("tryon.expired") + "\n"
    assert chat.replies[0].error and chat.queue.enqueued == []
    assert chat.studio.store.peek_command("console", "local", "operator") is None  # start again
