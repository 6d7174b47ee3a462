"""The Studio with the real store, blob store and intake, and an in-memory queue (the ``JobQueue`` port's
test implementation; the Celery one is exercised by the integration tests)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.blobs import input_key
from core.config import Settings
from core.errors import UserError
from core.imaging.idphoto.catalog import SuitOptions, parse_suit_options
from core.ports import ChatRef, JobState
from core.store import Pending
from core.studio.service import Studio, bootstrap
from tests.fakes import MemoryQueue

CHAT = ChatRef(platform="telegram", user_id="5", chat_id="50", lang="ko")


def photo(size: int = 128) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 150, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def make_studio(tmp_path: Path) -> Iterator[tuple[Studio, MemoryQueue]]:
    queue = MemoryQueue()
    studio = bootstrap(Settings(data_dir=tmp_path / "data"), queue=queue)
    queue.studio = studio
    yield studio, queue
    studio.store.close()


def test_a_suit_job_keeps_its_options_and_its_example_suit(make_studio: tuple[Studio, MemoryQueue]) -> None:
    studio, queue = make_studio
    options = parse_suit_options(["charcoal", "3x4", "grey"])
    submitted = studio.submit_suit(CHAT, photo(), options, exemplar_bytes=photo())
    assert queue.enqueued == [(submitted.job_id, "gpu", "suit")]
    job = studio.job(submitted.job_id)
    assert SuitOptions.from_params(job.params["options"]) == options
    assert job.params["inputs"] == {"exemplar": f"inputs/{submitted.job_id}.exemplar.png"}
    assert Image.open(io.BytesIO(studio.blobs.get(job.params["inputs"]["exemplar"]))).format == "PNG"


def test_a_bad_example_suit_is_refused_before_anything_is_stored(
    make_studio: tuple[Studio, MemoryQueue],
) -> None:
    studio, queue = make_studio
    with pytest.raises(UserError) as refused:
        studio.submit_suit(CHAT, photo(), SuitOptions.defaults(), exemplar_bytes=b"not a picture at all")
    assert refused.value.key == "intake.not_image"
    assert queue.enqueued == [] and studio.active_jobs(CHAT) == []


def test_submit_stores_a_clean_input_writes_the_job_then_enqueues(
    make_studio: tuple[Studio, MemoryQueue],
) -> None:
    studio, queue = make_studio
    first = studio.submit_unmask(CHAT, photo(), reply_to_message_id="900")
    second = studio.submit_unmask(CHAT, photo())
    assert (first.position, second.position, first.duplicate) == (1, 2, False)
    assert queue.enqueued == [(first.job_id, "gpu", "unmask"), (second.job_id, "gpu", "unmask")]
    job = studio.job(first.job_id)
    assert job.chat == CHAT and job.reply_to_message_id == "900" and job.input_key == input_key(first.job_id)
    assert job.params == {
        "source_format": "jpeg",
        "width": 128,
        "height": 128,
        "options": {},
        "inputs": {},
    }
    stored = Image.open(io.BytesIO(studio.blobs.get(job.input_key)))
    assert stored.format == "PNG" and stored.size == (128, 128)
    assert studio.store.user_language("telegram", "5") == "ko"


def test_b1_the_same_update_twice_makes_one_job_and_one_reply(
    make_studio: tuple[Studio, MemoryQueue],
) -> None:
    studio, queue = make_studio
    first = studio.submit_unmask(CHAT, photo(), update_key="telegram:77")
    again = studio.submit_unmask(CHAT, photo(), update_key="telegram:77")
    assert again.job_id == first.job_id and again.duplicate and not first.duplicate
    assert len(queue.enqueued) == 1


def test_b1_the_same_update_racing_makes_one_job(make_studio: tuple[Studio, MemoryQueue]) -> None:
    studio, queue = make_studio
    barrier = threading.Barrier(4)
    results = []

    def submit() -> None:
        barrier.wait()
        results.append(studio.submit_unmask(CHAT, photo(), update_key="telegram:78"))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.job_id for r in results}) == 1 and sum(not r.duplicate for r in results) == 1
    assert len(queue.enqueued) == 1
    assert len(list((studio.blobs.root / "inputs").iterdir())) == 1  # the losers' inputs were removed


def test_a_refused_photo_leaves_nothing_behind(make_studio: tuple[Studio, MemoryQueue]) -> None:
    studio, queue = make_studio
    with pytest.raises(UserError) as refused:
        studio.submit_unmask(CHAT, b"GIF89a not really")
    assert refused.value.key.startswith("intake.")
    assert queue.enqueued == [] and not (studio.blobs.root / "inputs").exists()
    assert studio.active_jobs(CHAT) == []


def test_a_broker_outage_is_answered_busy_and_not_delivered_again(tmp_path: Path) -> None:
    queue = MemoryQueue(broken=True)
    studio = bootstrap(Settings(data_dir=tmp_path / "data"), queue=queue)
    queue.studio = studio
    try:
        with pytest.raises(UserError) as busy:
            studio.submit_unmask(CHAT, photo())
        assert busy.value.key == "error.busy"
        [job] = studio.store.jobs_for_user("telegram", "5", active_only=False)
        assert job.state is JobState.FAILED and job.error_key == "error.busy"
        assert studio.store.undelivered(["telegram"]) == []  # the user was told right away
    finally:
        studio.store.close()


def test_pending_commands_use_the_configured_ttl(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    settings.studio.pending_command_ttl_s = 0
    studio = bootstrap(settings)
    try:
        studio.expect_photo(CHAT, "unmask")
        assert studio.take_expected(CHAT) is None  # expired at once
        studio.settings.studio.pending_command_ttl_s = 600
        studio.expect_photo(CHAT, "unmask")
        other_member = ChatRef(platform="telegram", user_id="6", chat_id="50")
        assert studio.take_expected(other_member) is None
        assert studio.take_expected(CHAT) == Pending("unmask", {}) and studio.take_expected(CHAT) is None
    finally:
        studio.store.close()


def test_status_message_cancel_and_active_jobs(make_studio: tuple[Studio, MemoryQueue]) -> None:
    studio, _ = make_studio
    submitted = studio.submit_unmask(CHAT, photo())
    studio.set_status_message(submitted.job_id, "1234")
    assert studio.job(submitted.job_id).status_message_id == "1234"
    assert [j.id for j in studio.active_jobs(CHAT)] == [submitted.job_id]
    assert studio.position(submitted.job_id) == 1
    assert studio.cancel(submitted.job_id) and not studio.cancel(submitted.job_id)
    assert studio.active_jobs(CHAT) == [] and studio.position(submitted.job_id) == 0


def test_waiting_jobs_are_handed_to_the_queue_again_oldest_first(
    make_studio: tuple[Studio, MemoryQueue],
) -> None:
    studio, queue = make_studio
    first = studio.submit_unmask(CHAT, photo())
    second = studio.submit_unmask(CHAT, photo())
    finished = studio.submit_unmask(CHAT, photo())
    assert studio.cancel(finished.job_id)
    queue.enqueued.clear()
    assert studio.enqueue_waiting() == 2
    assert [job_id for job_id, _, _ in queue.enqueued] == [first.job_id, second.job_id]


def quota_studio(tmp_path: Path, **limits: int) -> Studio:
    settings = Settings(data_dir=tmp_path / "data")
    settings = settings.model_copy(update={"studio": settings.studio.model_copy(update=limits)})
    return bootstrap(settings, queue=MemoryQueue())


def refused(studio: Studio, chat: ChatRef) -> UserError:
    with pytest.raises(UserError) as caught:
        studio.submit_unmask(chat, photo())
    for lang in ("en", "ko"):
        assert caught.value.render(lang)  # a sentence in either language, every parameter present
    return caught.value


def test_a_user_has_at_most_a_few_jobs_active_at_once(tmp_path: Path) -> None:
    studio = quota_studio(tmp_path, max_active_per_user=3)
    first = [studio.submit_unmask(CHAT, photo()).job_id for _ in range(3)]
    assert refused(studio, CHAT).key == "quota.active"
    other = ChatRef(platform="telegram", user_id="6", chat_id="60", lang="en")
    studio.submit_unmask(other, photo())  # someone else is not held up
    studio.cancel(first[0])
    studio.submit_unmask(CHAT, photo())  # one finished: the next one goes in
    assert studio.blobs.keys("inputs/").__len__() == 5  # the refused photo was never stored


def test_a_user_has_at_most_so_many_jobs_an_hour_and_is_told_when_to_come_back(tmp_path: Path) -> None:
    studio = quota_studio(tmp_path, max_jobs_per_hour=2)
    for _ in range(2):
        studio.cancel(studio.submit_unmask(CHAT, photo()).job_id)  # cancelled jobs count too
    error = refused(studio, CHAT)
    assert error.key == "quota.hourly" and 55 <= error.params["minutes"] <= 60


def test_a_group_and_the_whole_studio_have_caps(tmp_path: Path) -> None:
    studio = quota_studio(tmp_path, max_active_per_chat=2, max_queued=3)
    members = [ChatRef(platform="telegram", user_id=str(n), chat_id="-100", lang="en") for n in (1, 2, 3)]
    studio.submit_unmask(members[0], photo())
    studio.submit_unmask(members[1], photo())
    assert refused(studio, members[2]).key == "quota.chat"
    studio.submit_unmask(ChatRef(platform="telegram", user_id="7", chat_id="7", lang="en"), photo())
    assert (
        refused(studio, ChatRef(platform="telegram", user_id="8", chat_id="8", lang="en")).key == "quota.busy"
    )
