"""Worker faults (RELIABILITY.md Q1-Q4) with real Celery worker processes on a real Redis: jobs go in
through the Studio, come out through the Deliverer, and the job database is checked in between."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from fabric_harness import Fabric, WorkerProcess, wait_until
from fabric_worker import BUGGY, FAST, POISON, REFUSED, STUCK

from core.blobs import mask_key, result_key
from core.messages import t
from core.ports import JobState
from jobs.celery_app import restore_interval_s
from jobs.reaper import REAP_INTERVAL_S
from tests.services import redis_url

pytestmark = pytest.mark.integration

GREY = (120, 120, 120)


def assert_delivered_once(fabric: Fabric, job_id: str) -> None:
    time.sleep(1.5)  # longer than a delivery sweep: a duplicate would have been sent by now
    assert fabric.sender.delivered(job_id) == 1


def kill_pool_child_at(fabric: Fabric, worker: WorkerProcess, size: int, progress: float) -> str:
    """Submit a job, SIGKILL the pool child running it once it reached ``progress``, wait for delivery."""
    job_id = fabric.submit((size, 20, 30), size)

    def running_past() -> bool:
        job = fabric.job(job_id)
        return job.state is JobState.RUNNING and job.stage is not None and job.progress >= progress

    wait_until(running_past, 30, f"the job at {progress:.0%}")
    child = fabric.lease_pid(job_id)
    assert child is not None and child in worker.pool_children()
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: fabric.sender.delivered(job_id) > 0, 30, "delivery")
    return job_id


@pytest.mark.timeout(90)
def test_q1_killing_the_pool_child_mid_job_completes_each_job_exactly_once(fabric: Fabric) -> None:
    worker = fabric.start_worker(seconds=2.0)
    fabric.start_delivery()
    # Killed just after starting, early, and late in the pipeline.
    trials = [
        (kill_pool_child_at(fabric, worker, 96 + n, at), 96 + n) for n, at in enumerate((0.0, 0.3, 0.6))
    ]

    for job_id, size in trials:
        job = fabric.job(job_id)
        assert job.state is JobState.DONE and job.attempts == 2
        assert (fabric.runs("start", size), fabric.runs("done", size)) == (2, 1)
        assert worker.log.count(f"job {job_id} done") == 1  # one running -> done transition
        assert fabric.studio.blobs.exists(result_key(job_id)) and fabric.studio.blobs.exists(mask_key(job_id))
        assert fabric.sender.results.count(job_id) == 1
    assert_delivered_once(fabric, trials[-1][0])


@pytest.mark.timeout(90)
def test_q3_a_poison_job_fails_after_three_attempts_and_the_user_is_told_once(fabric: Fabric) -> None:
    worker = fabric.start_worker(seconds=0.3)
    fabric.start_delivery()
    poison = fabric.submit(POISON, 100)
    healthy = [fabric.submit(GREY, 96), fabric.submit(GREY, 97)]
    everything = [poison, *healthy]
    wait_until(lambda: all(fabric.sender.delivered(j) for j in everything), 60, "every job delivered")

    job = fabric.job(poison)
    assert (job.state, job.error_key, job.attempts) == (JobState.FAILED, "job.crashed", 3)
    assert fabric.runs("start", 100) == 3  # three attempts, each killed its process
    assert fabric.sender.failures == [(poison, t("job.crashed", "en", attempts=3))]
    for job_id in healthy:
        assert fabric.job(job_id).state is JobState.DONE and fabric.sender.results.count(job_id) == 1
    assert worker.process.poll() is None
    assert_delivered_once(fabric, poison)


@pytest.mark.timeout(90)
def test_q4_time_limits_fail_the_job_with_a_reason_and_the_worker_keeps_serving(fabric: Fabric) -> None:
    # Hard limit 3 s (soft 2.5 s); the scripted pipeline would work for 8 s.
    worker = fabric.start_worker(seconds=8.0, time_limit_s=3, visibility_timeout_s=10)
    fabric.start_delivery()
    stuck = fabric.submit(STUCK, 98)  # ignores the soft limit: killed by the hard one
    slow = fabric.submit(GREY, 99)  # stops at the soft limit
    refused, buggy, fast = fabric.submit(REFUSED), fabric.submit(BUGGY), fabric.submit(FAST)
    everything = [stuck, slow, refused, buggy, fast]
    wait_until(lambda: all(fabric.sender.delivered(j) for j in everything), 60, "every job delivered")

    failures = dict(fabric.sender.failures)
    for job_id in (stuck, slow):
        assert fabric.job(job_id).error_key == "job.timed_out"
        assert failures[job_id] == t("job.timed_out", "en")
    assert "Hard time limit" in worker.log and "killed by the hard time limit" in worker.log
    assert failures[refused] == t("job.failed", "en", reason=t("unmask.no_face", "en"))
    error_id = fabric.job(buggy).error_params["error_id"]
    assert failures[buggy] == t("error.internal", "en", error_id=error_id)
    assert (
        f"error id {error_id}" in worker.log and "a bug in a backend" in worker.log
    )  # logged with traceback
    assert fabric.job(fast).state is JobState.DONE and fabric.sender.results == [fast]
    assert worker.process.poll() is None


def kill_the_worker_running(fabric: Fabric, workers: list[WorkerProcess], job_id: str) -> WorkerProcess:
    """``kill -9`` the whole worker whose pool child runs ``job_id``; returns the surviving one."""
    wait_until(lambda: fabric.job(job_id).progress >= 0.2, 30, "the job running")
    child = fabric.lease_pid(job_id)
    holder = next(w for w in workers if child in w.pool_children())
    holder.kill()
    return next(w for w in workers if w is not holder)


@pytest.mark.timeout(120)
def test_q2_a_killed_workers_job_comes_back_after_the_visibility_timeout(fabric: Fabric) -> None:
    """The broker's own recovery, with the reaper left out. Bound: visibility timeout + one restore interval
    (the survivor's scan for abandoned messages) + the job's run time + worker and delivery latency."""
    visibility_timeout_s, seconds = 6, 2.5
    workers = [
        fabric.start_worker(seconds=seconds, time_limit_s=5, visibility_timeout_s=6, reaper=False)
        for _ in range(2)
    ]
    fabric.start_delivery()
    job_id = fabric.submit(GREY, 101)
    survivor = kill_the_worker_running(fabric, workers, job_id)
    took = wait_until(lambda: fabric.sender.delivered(job_id) > 0, 40, "redelivery to the surviving worker")

    restore = restore_interval_s(fabric.settings.worker.model_copy(update={"visibility_timeout_s": 6}))
    bound = visibility_timeout_s + restore + seconds + 2.0
    assert took <= bound, f"redelivered after {took:.1f} s, bound {bound:.1f} s"
    job = fabric.job(job_id)
    assert job.state is JobState.DONE and job.attempts == 2
    assert f"job {job_id} done" in survivor.log and fabric.runs("done", 101) == 1
    assert_delivered_once(fabric, job_id)


@pytest.mark.timeout(120)
def test_q2_with_production_timeouts_the_surviving_worker_requeues_the_job_within_seconds(
    fabric: Fabric,
) -> None:
    """A visibility timeout of an hour would keep the job waiting that long. The survivor sees the lease
    owner dead and re-queues it. Bound: one reaper interval + the run time + latency."""
    seconds = 2.0
    workers = [
        fabric.start_worker(seconds=seconds, time_limit_s=60, visibility_timeout_s=3600) for _ in range(2)
    ]
    fabric.start_delivery()
    job_id = fabric.submit(GREY, 102)
    survivor = kill_the_worker_running(fabric, workers, job_id)
    took = wait_until(lambda: fabric.sender.delivered(job_id) > 0, 40, "the job re-queued and delivered")

    bound = REAP_INTERVAL_S + seconds + 2.0
    assert took <= bound, f"delivered {took:.1f} s after the kill, bound {bound:.1f} s"
    assert f"job {job_id}: its worker" in survivor.log and f"job {job_id} done" in survivor.log
    job = fabric.job(job_id)
    assert job.state is JobState.DONE and job.attempts == 2 and fabric.runs("done", 102) == 1
    assert_delivered_once(fabric, job_id)


@pytest.mark.timeout(90)
def test_q5_a_queued_job_whose_broker_message_was_lost_runs_with_only_a_worker_running(
    fabric: Fabric, redis_db: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message of a queued job is gone (a Redis failover, the last second of the append-only file) and
    nothing re-sends at start-up (bots and workers run apart, no ``atelier serve``): a worker sends it
    again, once, and the job runs."""
    job_id = fabric.submit(GREY, 97)
    broker = redis.Redis.from_url(redis_url(redis_db))
    assert broker.llen("gpu") == 1
    broker.delete("gpu")  # the message is lost; the job row still says queued
    monkeypatch.setenv("ATELIER_WORKER__LOST_MESSAGE_AFTER_S", "2")
    worker = fabric.start_worker(seconds=0.2)
    fabric.start_delivery()
    wait_until(lambda: fabric.sender.delivered(job_id) > 0, 60, "delivery")
    assert fabric.job(job_id).state is JobState.DONE
    assert worker.log.count(f"job {job_id}: queued with no message in the broker") == 1
    assert_delivered_once(fabric, job_id)
