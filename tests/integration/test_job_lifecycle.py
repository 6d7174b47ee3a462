"""Cancel (Q5), duplicate messages (Q6) and a broker outage (R2) with real workers on a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_harness import CHAT, Fabric, png, wait_until

from core.config import Settings
from core.errors import UserError
from core.ports import JobState
from core.studio.service import bootstrap
from jobs.broker import EmbeddedRedis, start_embedded_redis
from jobs.celery_app import create_app
from jobs.queue import CeleryJobQueue

pytestmark = pytest.mark.integration

GREY = (120, 120, 120)


@pytest.mark.timeout(60)
def test_q5_cancelled_jobs_never_run_or_stop_early_and_are_not_delivered(fabric: Fabric) -> None:
    worker = fabric.start_worker(seconds=3.0)
    fabric.start_delivery()
    running = fabric.submit(GREY, 96)
    waiting = fabric.submit(GREY, 97)
    wait_until(lambda: fabric.job(running).progress >= 0.2, 30, "the first job running")
    assert fabric.studio.cancel(waiting)
    assert fabric.studio.cancel(running)
    cancelled_at = time.monotonic()
    wait_until(lambda: f"job {running} attempt 1 stopped" in worker.log, 10, "the running attempt to stop")
    assert time.monotonic() - cancelled_at < 1.5  # one progress step, not the rest of the job

    after = fabric.submit(GREY, 98)
    wait_until(lambda: fabric.sender.delivered(after) > 0, 30, "the next job")
    assert fabric.job(running).state is fabric.job(waiting).state is JobState.CANCELLED
    assert (fabric.runs("start", 96), fabric.runs("done", 96)) == (1, 0)
    assert fabric.runs("start", 97) == 0  # never ran
    assert (
        fabric.sender.delivered(running) == fabric.sender.delivered(waiting) == 0
    )  # /cancel answered already


@pytest.mark.timeout(60)
def test_q6_a_duplicate_message_for_a_running_job_has_no_effect(fabric: Fabric) -> None:
    first, second = (fabric.start_worker(seconds=3.0) for _ in range(2))
    fabric.start_delivery()
    job_id = fabric.submit(GREY, 99)
    wait_until(lambda: fabric.job(job_id).progress >= 0.2, 30, "the job running")
    # What a visibility timeout shorter than the job would cause: a second copy of the message.
    fabric.studio.queue.enqueue(job_id, "gpu", "unmask")
    wait_until(lambda: fabric.sender.delivered(job_id) > 0, 30, "delivery")
    duplicate_log = first.log + second.log
    assert f"job {job_id} is held by a living worker" in duplicate_log
    job = fabric.job(job_id)
    assert job.state is JobState.DONE and job.attempts == 1
    assert (fabric.runs("start", 99), fabric.runs("done", 99)) == (1, 1)
    time.sleep(1.5)
    assert fabric.sender.delivered(job_id) == 1


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = start_embedded_redis(tmp_path / "redis")
    yield server
    server.close()


@pytest.mark.timeout(90)
def test_r2_redis_down_means_busy_and_workers_resume_when_it_returns(
    embedded: EmbeddedRedis, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", redis_url=embedded.url)
    fabric = Fabric(tmp_path, settings, bootstrap(settings, queue=CeleryJobQueue(create_app(settings))))
    restarted: EmbeddedRedis | None = None
    try:
        worker = fabric.start_worker(seconds=0.2)
        fabric.start_delivery()
        before = fabric.submit(GREY, 100)
        wait_until(lambda: fabric.sender.delivered(before) > 0, 30, "a job before the outage")

        embedded.close()
        started = time.monotonic()
        with pytest.raises(UserError) as busy:
            fabric.studio.submit_unmask(CHAT, png(GREY, 101))
        assert busy.value.key == "error.busy" and time.monotonic() - started < 5

        restarted = start_embedded_redis(tmp_path / "redis")
        after = fabric.submit(GREY, 102)
        wait_until(lambda: fabric.sender.delivered(after) > 0, 60, "a job after Redis came back")
        assert worker.process.poll() is None, "the worker must reconnect, not restart"
        assert fabric.runs("start", 101) == 0 and fabric.job(after).state is JobState.DONE
    finally:
        fabric.close()
        if restarted is not None:
            restarted.close()
