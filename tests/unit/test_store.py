"""The job store on both databases: migrations, the job state machine, dedupe, queue positions, delivery
claims and pending commands. Concurrency is exercised with several stores (separate engines, as separate
processes would have) racing from threads."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, update

from core.ports import ChatRef, JobState
from core.store import AttemptAction, JobNotFound, JobStore, NewJob, Pending, migrate
from core.store.migrate import alembic_config
from core.store.models import Base, Delivery, Job

CHAT = ChatRef(platform="telegram", user_id="42", chat_id="4242", lang="ko")


@pytest.fixture
def store(db_url: str) -> Iterator[JobStore]:
    migrate(db_url)
    job_store = JobStore(db_url)
    yield job_store
    job_store.close()


def new_job(
    store: JobStore, *, queue: str = "gpu", update_key: str | None = None, chat: ChatRef = CHAT
) -> str:
    job_id = uuid.uuid4().hex
    assert store.create_job(
        NewJob(
            id=job_id,
            kind="unmask",
            queue=queue,
            chat=chat,
            input_key=f"inputs/{job_id}.png",
            update_key=update_key,
        )
    )
    return job_id


def finished(store: JobStore, *, failed: bool = False, chat: ChatRef = CHAT) -> str:
    job_id = new_job(store, chat=chat)
    assert store.start_attempt(job_id, 3, owner="w1").action is AttemptAction.RUN
    if failed:
        assert store.mark_failed(job_id, "unmask.no_face", {})
    else:
        assert store.mark_done(job_id, f"results/{job_id}.png", None)
    return job_id


def duplicate_of(update_key: str) -> NewJob:
    return NewJob(
        id=uuid.uuid4().hex, kind="unmask", queue="gpu", chat=CHAT, input_key="x", update_key=update_key
    )


def race(workers: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` on ``workers`` threads released at the same moment."""
    barrier = threading.Barrier(workers)

    def call(i: int) -> Any:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(call, range(workers)))


# --- migrations -----------------------------------------------------------------------------------


def test_migrations_reach_head_twice_and_match_the_models(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)  # a second service starting finds the schema at head
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    store = JobStore(db_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert context.get_current_revision() == head
            assert compare_metadata(context, Base.metadata) == []
    finally:
        store.close()


def test_concurrent_migrations_serialise(db_url: str) -> None:
    race(3, lambda _: migrate(db_url))
    store = JobStore(db_url)
    try:
        assert store.create_job(
            NewJob(id="a" * 32, kind="unmask", queue="gpu", chat=CHAT, input_key="inputs/a.png")
        )
    finally:
        store.close()


# --- creating, dedupe, positions ------------------------------------------------------------------


def test_a_new_job_is_queued_with_aware_utc_timestamps(store: JobStore) -> None:
    job = store.get(new_job(store))
    assert job.state is JobState.QUEUED and job.attempts == 0 and job.chat == CHAT
    assert job.created_at is not None and job.created_at.tzinfo is not None
    assert abs(job.created_at - datetime.now(UTC)) < timedelta(seconds=30)
    with pytest.raises(JobNotFound):
        store.get("0" * 32)


def test_the_same_update_makes_one_job(store: JobStore) -> None:
    first = new_job(store, update_key="telegram:1001")
    assert store.create_job(duplicate_of("telegram:1001")) is False
    seen = store.job_by_update_key("telegram:1001")
    assert seen is not None and seen.id == first
    assert store.job_by_update_key("telegram:1002") is None


def test_the_same_update_racing_makes_one_job(store: JobStore, db_url: str) -> None:
    stores = [JobStore(db_url) for _ in range(4)]
    try:
        made = race(4, lambda i: stores[i].create_job(duplicate_of("tg:7")))
    finally:
        for s in stores:
            s.close()
    assert sorted(made) == [False, False, False, True]


def test_queue_position_counts_earlier_jobs_of_the_same_queue(store: JobStore) -> None:
    first, second, third = new_job(store), new_job(store), new_job(store)
    other_queue = new_job(store, queue="cpu")
    assert [store.queue_position(j) for j in (first, second, third)] == [1, 2, 3]
    assert store.queue_position(other_queue) == 1
    store.start_attempt(first, 3, owner="w1")
    assert store.queue_position(first) == 0  # running: not waiting any more
    assert store.queue_position(second) == 2  # the running job is still ahead of it
    store.mark_done(first, "results/x.png", None)
    store.cancel(second)
    assert store.queue_position(third) == 1


# --- the worker side ------------------------------------------------------------------------------


def test_attempts_leases_and_the_crash_cap(store: JobStore) -> None:
    job_id = new_job(store)
    first = store.start_attempt(job_id, 3, owner="host:1:1", lease_s=60)
    assert (
        first.action is AttemptAction.RUN and first.job.state is JobState.RUNNING and first.job.attempts == 1
    )

    alive = store.start_attempt(job_id, 3, owner="host:2:2", lease_s=60, owner_alive=lambda _: True)
    assert alive.action is AttemptAction.BUSY and 0 < alive.retry_in_s <= 60
    assert store.get(job_id).attempts == 1

    for expected in (2, 3):  # the previous owner died each time: take over
        taken = store.start_attempt(
            job_id, 3, owner=f"host:{expected}:0", lease_s=60, owner_alive=lambda _: False
        )
        assert taken.action is AttemptAction.RUN and taken.job.attempts == expected

    crashed = store.start_attempt(job_id, 3, owner="host:9:9", owner_alive=lambda _: False)
    assert crashed.action is AttemptAction.CRASHED
    job = store.get(job_id)
    assert (
        job.state is JobState.FAILED
        and job.error_key == "job.crashed"
        and job.error_params == {"attempts": 3}
    )
    assert store.start_attempt(job_id, 3, owner="host:10:0").action is AttemptAction.SKIP


def test_an_expired_lease_is_taken_over_without_asking(store: JobStore) -> None:
    job_id = new_job(store)
    store.start_attempt(job_id, 3, owner="elsewhere:1:1", lease_s=0.0)
    assert store.start_attempt(job_id, 3, owner="here:2:2").action is AttemptAction.RUN


def test_running_jobs_of_dead_or_expired_owners_are_requeued_once(store: JobStore) -> None:
    alive, dead, expired = new_job(store), new_job(store), new_job(store)
    new_job(store)  # queued: not the reaper's business
    store.start_attempt(alive, 3, owner="here:1:1", lease_s=60)
    store.start_attempt(dead, 3, owner="here:2:2", lease_s=60)
    store.start_attempt(expired, 3, owner="elsewhere:3:3", lease_s=0)

    def owner_alive(owner: str) -> bool:
        return owner != "here:2:2"

    assert {job.id for job in store.stale_running(owner_alive)} == {dead, expired}
    assert store.mark_requeued(dead, "here:2:2", grace_s=60)
    assert not store.mark_requeued(dead, "here:2:2", grace_s=60)  # one worker re-queues it, not each
    assert {job.id for job in store.stale_running(owner_alive)} == {expired}  # within its grace period
    # The re-queued message (or the broker's own redelivery) takes over without waiting for a lease.
    taken = store.start_attempt(dead, 3, owner="here:4:4", owner_alive=lambda _: True)
    assert taken.action is AttemptAction.RUN and taken.job.attempts == 2


def test_done_jobs_are_only_announced_and_cancelled_ones_skipped(store: JobStore) -> None:
    done = finished(store)
    assert store.start_attempt(done, 3, owner="w2").action is AttemptAction.ANNOUNCE
    cancelled = new_job(store)
    assert store.cancel(cancelled) and not store.cancel(cancelled)
    assert store.start_attempt(cancelled, 3, owner="w2").action is AttemptAction.SKIP


def test_concurrent_workers_cannot_both_run_or_both_finish(store: JobStore, db_url: str) -> None:
    job_id = new_job(store)
    stores = [JobStore(db_url) for _ in range(4)]
    try:
        actions = race(4, lambda i: stores[i].start_attempt(job_id, 3, owner=f"h:{i}:0", lease_s=60).action)
        assert sorted(actions) == [AttemptAction.BUSY] * 3 + [AttemptAction.RUN]
        marked = race(4, lambda i: stores[i].mark_done(job_id, "results/x.png", None))
        assert marked.count(True) == 1
    finally:
        for s in stores:
            s.close()
    assert store.get(job_id).attempts == 1


def test_progress_extends_the_lease_and_stops_a_cancelled_or_overtaken_attempt(store: JobStore) -> None:
    job_id = new_job(store)
    store.start_attempt(job_id, 3, owner="w1", lease_s=1)
    assert store.report_progress(job_id, "w1", "inpaint", 0.5, lease_s=600)
    job = store.get(job_id)
    assert job.stage == "inpaint" and job.progress == 0.5
    # The lease now runs for 10 minutes: another worker sees it held.
    assert store.start_attempt(job_id, 3, owner="w2").action is AttemptAction.BUSY
    assert not store.report_progress(job_id, "w2", "inpaint", 0.6, lease_s=600)  # not the owner
    store.cancel(job_id)
    assert not store.report_progress(job_id, "w1", "inpaint", 0.7, lease_s=600)
    assert not store.mark_done(job_id, "results/x.png", None)
    assert store.get(job_id).state is JobState.CANCELLED


def test_failures_keep_their_key_params_and_error_id(store: JobStore) -> None:
    job_id = new_job(store)
    store.start_attempt(job_id, 3, owner="w1")
    assert store.mark_failed(job_id, "error.internal", {"error_id": "abc123"}, error_id="abc123")
    job = store.get(job_id)
    assert (job.state, job.error_key, job.error_params) == (
        JobState.FAILED,
        "error.internal",
        {"error_id": "abc123"},
    )
    assert not store.mark_done(job_id, "results/x.png", None)


# --- delivery records -----------------------------------------------------------------------------


def test_undelivered_lists_finished_jobs_of_the_platform_until_sent(store: JobStore) -> None:
    done, failed = finished(store), finished(store, failed=True)
    other_platform = finished(store, chat=ChatRef("discord", "1", "2"))
    running = new_job(store)
    store.start_attempt(running, 3, owner="w")
    cancelled = new_job(store)
    store.cancel(cancelled)
    assert {j.id for j in store.undelivered(["telegram"])} == {done, failed}

    token = store.claim_delivery(done)
    assert token is not None
    assert {j.id for j in store.undelivered(["telegram"])} == {failed}  # claimed, not stale
    assert store.mark_sent(done, token)
    token = store.claim_delivery(failed)
    assert token is not None and store.mark_undeliverable(failed, token, "bot blocked")
    assert store.undelivered(["telegram"]) == []
    assert {j.id for j in store.undelivered(["discord"])} == {other_platform}
    delivery = store.delivery(failed)
    assert (
        delivery is not None and delivery.status == "undeliverable" and delivery.last_error == "bot blocked"
    )


def test_one_claim_wins_among_racing_deliverers(store: JobStore, db_url: str) -> None:
    job_id = finished(store)
    stores = [JobStore(db_url) for _ in range(6)]
    try:
        tokens = race(6, lambda i: stores[i].claim_delivery(job_id))
    finally:
        for s in stores:
            s.close()
    winners = [t for t in tokens if t is not None]
    assert len(winners) == 1
    assert not store.mark_sent(job_id, "not-the-token")
    assert store.mark_sent(job_id, winners[0])
    assert store.claim_delivery(job_id, stale_after_s=0) is None  # sent is final


def test_a_stale_claim_or_a_due_retry_can_be_claimed_again(store: JobStore) -> None:
    job_id = finished(store)
    first = store.claim_delivery(job_id)
    assert first is not None
    assert store.claim_delivery(job_id, stale_after_s=600) is None
    second = store.claim_delivery(job_id, stale_after_s=0)  # the first holder is presumed dead
    assert second is not None and second != first
    assert not store.mark_sent(job_id, first)  # the old holder lost its claim

    assert store.retry_delivery_later(job_id, second, delay_s=600, error="timeout")
    assert store.claim_delivery(job_id) is None and store.undelivered(["telegram"]) == []
    with store.engine.begin() as conn:  # let the clock run
        conn.execute(
            update(Delivery).where(Delivery.job_id == job_id).values(next_attempt_at=datetime.now(UTC))
        )
    assert [j.id for j in store.undelivered(["telegram"])] == [job_id]
    third = store.claim_delivery(job_id)
    assert third is not None and store.mark_sent(job_id, third)
    record = store.delivery(job_id)
    assert record is not None and record.attempts == 3 and record.status == "sent"


def test_a_job_refused_at_the_queue_counts_as_answered(store: JobStore) -> None:
    job_id = new_job(store)
    assert store.reject_queued(job_id, "error.busy")
    job = store.get(job_id)
    assert job.state is JobState.FAILED and job.error_key == "error.busy"
    assert store.undelivered(["telegram"]) == []
    assert store.start_attempt(job_id, 3, owner="w").action is AttemptAction.SKIP


def test_deleting_a_job_deletes_its_delivery(store: JobStore) -> None:
    job_id = finished(store)
    assert store.claim_delivery(job_id) is not None
    with store.engine.begin() as conn:
        conn.execute(delete(Job).where(Job.id == job_id))
    assert store.delivery(job_id) is None


# --- pending commands and users -------------------------------------------------------------------


def test_pending_commands_expire_and_are_taken_once(store: JobStore) -> None:
    store.expect_command("telegram", "c1", "u1", "unmask", ttl_s=60)
    assert store.take_command("telegram", "c1", "u2") is None  # another member of the group
    assert store.take_command("telegram", "c1", "u1") == Pending("unmask", {})
    assert store.take_command("telegram", "c1", "u1") is None

    store.expect_command("telegram", "c1", "u1", "suit", ttl_s=60)
    store.expect_command("telegram", "c1", "u1", "unmask", ttl_s=60)  # the newer request replaces it
    assert store.take_command("telegram", "c1", "u1") == Pending("unmask", {})

    store.expect_command("telegram", "c1", "u1", "unmask", ttl_s=0.05)
    time.sleep(0.1)
    assert store.take_command("telegram", "c1", "u1") is None


def test_pending_options_are_changed_by_their_owner_only(store: JobStore) -> None:
    store.expect_command("telegram", "c1", "u1", "suit", ttl_s=60, params={"style": "navy", "tie": True})
    assert store.update_pending_params("telegram", "c1", "u2", "suit", {"style": "black"}) is None
    assert store.update_pending_params("telegram", "c1", "u1", "unmask", {"style": "black"}) is None
    changed = store.update_pending_params("telegram", "c1", "u1", "suit", {"style": "black"})
    assert changed == {"style": "black", "tie": True}
    assert store.take_command("telegram", "c1", "u1") == Pending("suit", {"style": "black", "tie": True})
    assert store.update_pending_params("telegram", "c1", "u1", "suit", {"tie": False}) is None


def test_a_pending_command_is_taken_by_one_of_two_racing_messages(store: JobStore, db_url: str) -> None:
    store.expect_command("telegram", "c1", "u1", "unmask", ttl_s=60)
    stores = [JobStore(db_url) for _ in range(4)]
    try:
        taken = race(4, lambda i: stores[i].take_command("telegram", "c1", "u1"))
    finally:
        for s in stores:
            s.close()
    assert taken.count(Pending("unmask", {})) == 1 and taken.count(None) == 3


def test_users_remember_their_language(store: JobStore) -> None:
    assert store.user_language("telegram", "u1") is None
    store.upsert_user("telegram", "u1", "ko")
    store.upsert_user("telegram", "u1", "en")
    assert store.user_language("telegram", "u1") == "en"
