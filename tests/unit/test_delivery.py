"""The Deliverer against a real job store and blob store, with an in-memory chat."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from core.blobs import LocalBlobStore, delivery_parts_key
from core.messages import t
from core.ports import ChatRef, JobView
from core.store import AttemptAction, JobStore, NewJob, migrate
from core.store.models import Delivery, Job
from core.studio.commands import Buttons
from core.studio.delivery import Attachment, Deliverer, Rejected, Undeliverable, failure_text
from core.studio.sent_parts import SentParts

EN = ChatRef(platform="telegram", user_id="1", chat_id="10", lang="en")
KO = ChatRef(platform="telegram", user_id="2", chat_id="20", lang="ko")


class RecordingSender:
    platform = "telegram"

    def __init__(self, *, fail_with: Exception | None = None, delay_s: float = 0.0) -> None:
        self.results: list[tuple[str, bytes, str]] = []
        self.attachments: list[list[str]] = []
        self.failures: list[tuple[str, str]] = []
        self.progress: list[tuple[str, str, float]] = []
        self.buttons: list[tuple[str, Buttons]] = []  # (text or caption, buttons) per edit and result
        self.calls = 0
        self.fail_with = fail_with
        self.delay_s = delay_s

    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        self.progress.append((job.id, text, time.monotonic()))
        self.buttons.append((text, buttons))

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,
    ) -> None:
        self.calls += 1
        self.attachments.append([a.name for a in attachments])
        await asyncio.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        self.results.append((job.id, result_png, caption))
        self.buttons.append((caption, buttons))

    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.failures.append((job.id, text))


class PartByPartPlatform:
    """A platform that takes a result as several messages, the photo, the full-resolution file and one per
    attachment, and fails the message named ``fail_once`` the first time it is sent."""

    platform = "telegram"

    def __init__(self, fail_once: str | None = None) -> None:
        self.fail_once = fail_once
        self.posted: list[str] = []  # every message the chat received, in order

    async def show_progress(self, job: JobView, text: str, buttons: Buttons = ()) -> None:
        pass

    async def send_result(
        self,
        job: JobView,
        result_png: bytes,
        caption: str,
        attachments: Sequence[Attachment] = (),
        buttons: Buttons = (),
        parts: SentParts | None = None,
    ) -> None:
        parts = parts if parts is not None else SentParts()
        for name in ["photo", "document", *(f"attachment:{a.name}" for a in attachments)]:
            await parts.send(name, lambda name=name: self._post(name))

    async def send_text(self, job: JobView, text: str, parts: SentParts | None = None) -> None:
        await (parts if parts is not None else SentParts()).send("text", lambda: self._post("text"))

    async def _post(self, name: str) -> None:
        if name == self.fail_once:
            self.fail_once = None
            raise ConnectionError(f"connection reset while sending the {name}")
        self.posted.append(name)


class QueueEventBus:
    """The EventBus port in memory (the Redis one is exercised by the integration tests)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def publish(self, job_id: str, event: str) -> None:
        self.queue.put_nowait((job_id, event))

    async def listen(self) -> AsyncIterator[tuple[str, str]]:
        while True:
            yield await self.queue.get()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    migrate(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[JobStore]:
    job_store = JobStore(db_url)
    yield job_store
    job_store.close()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def running_job(store: JobStore, chat: ChatRef = EN) -> str:
    job_id = uuid.uuid4().hex
    store.create_job(
        NewJob(id=job_id, kind="unmask", queue="gpu", chat=chat, input_key=f"inputs/{job_id}.png")
    )
    assert store.start_attempt(job_id, 3, owner="w").action is AttemptAction.RUN
    return job_id


def done_job(store: JobStore, blobs: LocalBlobStore, chat: ChatRef = EN) -> str:
    job_id = running_job(store, chat)
    blobs.put(f"results/{job_id}.png", f"png of {job_id}".encode())
    store.mark_done(job_id, f"results/{job_id}.png", None)
    return job_id


def done_suit_job(store: JobStore, blobs: LocalBlobStore) -> str:
    """A finished /suit job: a result and its print sheet."""
    job_id = uuid.uuid4().hex
    store.create_job(NewJob(id=job_id, kind="suit", queue="gpu", chat=EN, input_key=f"inputs/{job_id}.png"))
    assert store.start_attempt(job_id, 3, owner="w").action is AttemptAction.RUN
    blobs.put(f"results/{job_id}.png", b"result png")
    blobs.put(f"results/{job_id}.sheet.png", b"sheet png")
    store.mark_done(job_id, f"results/{job_id}.png", None)
    return job_id


def make_due(store: JobStore, job_id: str) -> None:
    """The retry's backoff has passed."""
    with store.engine.begin() as conn:
        conn.execute(
            update(Delivery).where(Delivery.job_id == job_id).values(next_attempt_at=datetime.now(UTC))
        )


def failed_job(store: JobStore, chat: ChatRef, key: str, **params: object) -> str:
    job_id = running_job(store, chat)
    store.mark_failed(job_id, key, dict(params))
    return job_id


def test_a_finished_job_is_delivered_once_in_the_users_language(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    job_id = done_job(store, blobs, KO)
    sender = RecordingSender()
    deliverer = Deliverer(store, blobs, None, {"telegram": sender})

    async def scenario() -> tuple[int, int]:
        return await deliverer.deliver_pending(), await deliverer.deliver_pending()

    assert asyncio.run(scenario()) == (1, 0)
    assert sender.results == [(job_id, f"png of {job_id}".encode(), t("result.caption", "ko"))]
    assert sender.progress[-1][1] == t("job.done", "ko")  # the status message no longer says "working"
    record = store.delivery(job_id)
    assert record is not None and record.status == "sent"


def test_concurrent_sweeps_in_several_processes_send_each_job_once(
    db_url: str, store: JobStore, blobs: LocalBlobStore
) -> None:
    jobs = {done_job(store, blobs) for _ in range(15)} | {
        failed_job(store, KO, "unmask.no_face") for _ in range(5)
    }
    senders = [RecordingSender(delay_s=0.01) for _ in range(4)]
    stores = [JobStore(db_url) for _ in senders]  # one engine each, as separate bot processes would have
    deliverers = [
        Deliverer(s, blobs, None, {"telegram": sender}) for s, sender in zip(stores, senders, strict=True)
    ]

    async def scenario() -> None:
        await asyncio.gather(*(d.deliver_pending() for d in deliverers for _ in range(3)))

    try:
        asyncio.run(scenario())
    finally:
        for s in stores:
            s.close()
    sent = [entry[0] for sender in senders for entry in [*sender.results, *sender.failures]]
    assert sorted(sent) == sorted(jobs)


def test_a_blocked_user_is_marked_undeliverable_and_never_retried(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    job_id = done_job(store, blobs)
    sender = RecordingSender(fail_with=Undeliverable("Forbidden: bot was blocked by the user"))
    deliverer = Deliverer(store, blobs, None, {"telegram": sender}, sweep_interval_s=0.05)

    async def scenario() -> None:
        run = asyncio.create_task(deliverer.run())
        await asyncio.sleep(0.5)  # ten sweeps
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)

    asyncio.run(scenario())
    assert sender.calls == 1
    record = store.delivery(job_id)
    assert record is not None and record.status == "undeliverable" and "blocked" in (record.last_error or "")


def test_other_send_errors_are_retried_later_with_backoff(store: JobStore, blobs: LocalBlobStore) -> None:
    job_id = done_job(store, blobs)
    sender = RecordingSender(fail_with=ConnectionError("network unreachable"))
    deliverer = Deliverer(store, blobs, None, {"telegram": sender})
    assert asyncio.run(deliverer.deliver_pending()) == 0
    record = store.delivery(job_id)
    assert record is not None and record.status == "pending" and record.next_attempt_at is not None
    assert (record.next_attempt_at - datetime.now(UTC)).total_seconds() > 3  # not a tight loop
    assert asyncio.run(deliverer.deliver_pending()) == 0 and sender.calls == 1

    with store.engine.begin() as conn:  # the backoff has passed
        conn.execute(
            update(Delivery).where(Delivery.job_id == job_id).values(next_attempt_at=datetime.now(UTC))
        )
    sender.fail_with = None
    assert asyncio.run(deliverer.deliver_pending()) == 1
    assert [job for job, *_ in sender.results] == [job_id]


def test_delivery_gives_up_after_max_attempts(store: JobStore, blobs: LocalBlobStore) -> None:
    job_id = done_job(store, blobs)
    sender = RecordingSender(fail_with=TimeoutError("upload timed out"))
    deliverer = Deliverer(store, blobs, None, {"telegram": sender}, max_send_attempts=2)
    for _ in range(2):
        with store.engine.begin() as conn:
            conn.execute(
                update(Delivery).where(Delivery.job_id == job_id).values(next_attempt_at=datetime.now(UTC))
            )
        asyncio.run(deliverer.deliver_pending())
    record = store.delivery(job_id)
    assert record is not None and record.status == "undeliverable" and sender.calls == 2


def test_a_send_interrupted_by_shutdown_is_handed_to_the_next_start(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    job_id = done_job(store, blobs)
    slow = RecordingSender(delay_s=30)

    async def shut_down_mid_send() -> None:
        sweep = asyncio.create_task(Deliverer(store, blobs, None, {"telegram": slow}).deliver_pending())
        await asyncio.sleep(0.2)
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)

    asyncio.run(shut_down_mid_send())
    record = store.delivery(job_id)
    assert record is not None and record.status == "pending"
    after_restart = RecordingSender()
    assert asyncio.run(Deliverer(store, blobs, None, {"telegram": after_restart}).deliver_pending()) == 1
    assert [job for job, *_ in after_restart.results] == [job_id]


@pytest.mark.parametrize("chat", [EN, KO], ids=["en", "ko"])
def test_failures_are_told_in_the_users_language(
    store: JobStore, blobs: LocalBlobStore, chat: ChatRef
) -> None:
    lang = chat.lang
    refused = failed_job(store, chat, "unmask.face_too_small", face_px=20, min_px=40)
    crashed = running_job(store, chat)
    for _ in range(2):
        store.start_attempt(crashed, 3, owner="other", owner_alive=lambda _: False)
    assert (
        store.start_attempt(crashed, 3, owner="other", owner_alive=lambda _: False).action
        is AttemptAction.CRASHED
    )
    timed_out = failed_job(store, chat, "job.timed_out")
    internal = failed_job(store, chat, "error.internal", error_id="c0ffee12")
    unknown = failed_job(store, chat, "no.such.key")
    sender = RecordingSender()
    assert asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver_pending()) == 5

    texts = dict(sender.failures)
    reason = t("unmask.face_too_small", lang, face_px=20, min_px=40)
    assert texts[refused] == t("job.failed", lang, reason=reason) and "20" in texts[refused]
    assert texts[crashed] == t("job.crashed", lang, attempts=3)
    assert texts[timed_out] == t("job.timed_out", lang)
    assert texts[internal] == t("error.internal", lang, error_id="c0ffee12") and "c0ffee12" in texts[internal]
    assert texts[unknown] == t("error.internal", lang, error_id=unknown[:8])
    assert failure_text(store.get(refused)) == texts[refused]
    if lang == "ko":
        assert all(any("\uac00" <= ch <= "\ud7a3" for ch in text) for text in texts.values())


def test_a_missing_result_becomes_an_apology_with_an_error_id(store: JobStore, blobs: LocalBlobStore) -> None:
    job_id = done_job(store, blobs)
    blobs.delete(f"results/{job_id}.png")
    sender = RecordingSender()
    asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver_pending())
    [(failed_id, text)] = sender.failures
    assert failed_id == job_id and text.startswith(t("error.internal", "en", error_id="X").split("X")[0])


def test_jobs_of_other_platforms_are_left_to_their_own_front_end(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    discord_job = done_job(store, blobs, ChatRef("discord", "1", "2"))
    sender = RecordingSender()
    assert asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver_pending()) == 0
    assert store.delivery(discord_job) is None


def test_progress_edits_are_throttled_per_job_and_end_with_the_newest_state(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    job_id = running_job(store, KO)
    sender = RecordingSender()
    deliverer = Deliverer(store, blobs, None, {"telegram": sender}, progress_interval_s=0.3)

    async def scenario() -> None:
        edits = []
        for step in range(1, 11):
            store.report_progress(job_id, "w", "inpaint", step / 10, lease_s=60)
            edits.append(asyncio.create_task(deliverer.show_progress(job_id)))
            await asyncio.sleep(0.05)
        await asyncio.gather(*edits)

    asyncio.run(scenario())
    times = [at for _, _, at in sender.progress]
    assert 2 <= len(sender.progress) <= 3
    assert all(b - a >= 0.29 for a, b in zip(times, times[1:], strict=False))
    assert sender.progress[-1][1] == t("job.running", "ko", stage=t("stage.inpaint", "ko"), percent=100)


def test_run_delivers_the_backlog_first_then_follows_events(store: JobStore, blobs: LocalBlobStore) -> None:
    backlog = done_job(store, blobs)
    sender = RecordingSender()
    events = QueueEventBus()
    # A sweep interval far beyond the test: only the start-up sweep and the events can deliver.
    deliverer = Deliverer(store, blobs, events, {"telegram": sender}, sweep_interval_s=3600)

    async def delivered(count: int) -> list[str]:
        deadline = time.monotonic() + 30  # a deadline for a stuck loop, not a latency check
        while len(sender.results) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return [job for job, *_ in sender.results]

    async def scenario() -> tuple[list[str], list[str], str]:
        run = asyncio.create_task(deliverer.run())
        at_start = await delivered(1)
        live = done_job(store, blobs)
        events.publish(live, "done")
        after_event = await delivered(2)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        return at_start, after_event, live

    at_start, after_event, live = asyncio.run(scenario())
    assert at_start == [backlog]  # before any event: the start-up sweep
    assert after_event == [backlog, live]  # the hour-long sweep never ran: the event delivered it


def kind_job(store: JobStore, kind: str, chat: ChatRef = EN, params: dict | None = None) -> str:
    job_id = uuid.uuid4().hex
    store.create_job(NewJob(id=job_id, kind=kind, queue="cpu", chat=chat, input_key="", params=params or {}))
    assert store.start_attempt(job_id, 3, owner="w").action is AttemptAction.RUN
    return job_id


def test_a_job_whose_result_is_a_sentence_is_answered_with_it(store: JobStore, blobs: LocalBlobStore) -> None:
    accepted = kind_job(store, "selfie", KO)
    store.mark_done(
        accepted,
        None,
        None,
        {"notice": {"key": "train.selfie_ok", "params": {"count": 2, "min": 5, "max": 20}}},
    )
    rejected = kind_job(store, "selfie")
    store.mark_failed(rejected, "train.selfie.several_faces", {"count": 2})
    sender = RecordingSender()
    assert asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver_pending()) == 2
    assert dict(sender.failures) == {
        accepted: t("train.selfie_ok", "ko", count=2, min=5, max=20),
        rejected: "Not used: I found 2 faces; please send selfies of you alone.",
    }
    assert sender.results == []


def test_training_progress_names_the_step_and_the_time_left(store: JobStore) -> None:
    from core.studio.delivery import progress_text

    job_id = kind_job(store, "train", params={"options": {"steps": 800}})
    store.report_progress(job_id, "w", "train", 0.25, lease_s=60)
    with store.engine.begin() as conn:  # started two minutes ago
        conn.execute(
            update(Job.__table__)  # type: ignore[arg-type]
            .where(Job.id == job_id)
            .values(started_at=datetime.now(UTC) - timedelta(minutes=2))
        )
    text = progress_text(store.get(job_id))
    assert text == "Training your model: step 200 of 800, about 6 min left. /cancel stops it."


def test_a_result_made_with_the_users_identity_reports_its_likeness(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    from core.studio.delivery import result_caption

    job_id = running_job(store)
    blobs.put(f"results/{job_id}.png", b"png")
    store.mark_done(job_id, f"results/{job_id}.png", None, {"likeness": 0.4123})
    caption = result_caption(store.get(job_id))
    assert caption.endswith(
        "Likeness to your selfies: face distance 0.41 (below 0.6 usually means the same person)."
    )


def test_running_jobs_carry_a_cancel_button_and_results_a_try_again_button(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    running = running_job(store, KO)
    store.report_progress(running, "w", "inpaint", 0.5, lease_s=60)
    finished = done_job(store, blobs, KO)
    sender = RecordingSender()
    deliverer = Deliverer(store, blobs, None, {"telegram": sender})

    async def scenario() -> None:
        await deliverer.show_progress(running)
        await deliverer.deliver_pending()

    asyncio.run(scenario())
    (progress_text, (cancel_row,)), (caption, (retry_row,)), (final_text, final_buttons) = sender.buttons
    assert [b.label for b in cancel_row] == [t("job.cancel_button", "ko")]
    assert cancel_row[0].data == f"job:{KO.user_id}:cancel:{running}"
    assert caption == t("result.caption", "ko")
    assert [b.data for b in retry_row] == [f"job:{KO.user_id}:retry:{finished}"]
    assert final_text == t("job.done", "ko") and final_buttons == ()  # the Cancel button goes away


def test_a_failed_jobs_status_message_stops_saying_working(store: JobStore, blobs: LocalBlobStore) -> None:
    failed_job(store, EN, "unmask.no_face")
    sender = RecordingSender()
    asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver_pending())
    assert sender.progress[-1][1] == t("job.ended", "en")


@pytest.mark.parametrize("failing", ["photo", "document", "attachment:sheet"])
def test_a_retry_resumes_a_multi_part_delivery_where_it_stopped(
    db_url: str, store: JobStore, blobs: LocalBlobStore, failing: str
) -> None:
    """Each part is recorded once the platform took it, durably (the retry here runs in another process,
    with its own store and sender): every part reaches the chat exactly once."""
    job_id = done_suit_job(store, blobs)
    first = PartByPartPlatform(fail_once=failing)
    assert asyncio.run(Deliverer(store, blobs, None, {"telegram": first}).deliver_pending()) == 0
    record = store.delivery(job_id)
    assert record is not None and record.status == "pending"

    make_due(store, job_id)
    other_process, second = JobStore(db_url), PartByPartPlatform()
    try:
        assert asyncio.run(Deliverer(other_process, blobs, None, {"telegram": second}).deliver_pending()) == 1
    finally:
        other_process.close()
    assert first.posted + second.posted == ["photo", "document", "attachment:sheet"]
    assert not blobs.exists(delivery_parts_key(job_id))  # delivered: nothing left to resume


def test_a_rejected_message_ends_the_delivery_at_once(store: JobStore, blobs: LocalBlobStore) -> None:
    """A permanent refusal (a 4xx the same request would get again) is not retried with backoff."""
    job_id = done_job(store, blobs)
    sender = RecordingSender(fail_with=Rejected("Bad Request: message is too long"))
    deliverer = Deliverer(store, blobs, None, {"telegram": sender})
    for _ in range(3):
        make_due(store, job_id)
        assert asyncio.run(deliverer.deliver_pending()) == 0
    record = store.delivery(job_id)
    assert record is not None and record.status == "undeliverable" and record.attempts == 1
    assert sender.calls == 1 and "too long" in (record.last_error or "")


def test_deliveries_and_their_retries_are_counted_for_the_metrics(
    store: JobStore, blobs: LocalBlobStore
) -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"platform": "telegram", **labels}) or 0.0

    before = (
        sample("atelier_deliveries_total", outcome="sent"),
        sample("atelier_deliveries_total", outcome="undeliverable"),
        sample("atelier_delivery_retries_total"),
    )
    sent, blocked, flaky = done_job(store, blobs), done_job(store, blobs), done_job(store, blobs)
    sender = RecordingSender()
    asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver(sent))
    sender.fail_with = Undeliverable("Forbidden: bot was blocked by the user")
    asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver(blocked))
    sender.fail_with = ConnectionError("network unreachable")
    asyncio.run(Deliverer(store, blobs, None, {"telegram": sender}).deliver(flaky))
    after = (
        sample("atelier_deliveries_total", outcome="sent"),
        sample("atelier_deliveries_total", outcome="undeliverable"),
        sample("atelier_delivery_retries_total"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]
