"""The retention rule runs on the worker's own timer: with only ``atelier worker`` running, a delivered
job's pictures disappear once ``keep_days`` have passed, and a refused job's photo as it fails (real Celery
worker process, real Redis, the real job and blob stores)."""

from __future__ import annotations

import pytest
from fabric_harness import Fabric, wait_until
from fabric_worker import FAST, REFUSED

from core.ports import JobState

pytestmark = pytest.mark.integration


def pictures(fabric: Fabric) -> list[str]:
    return fabric.studio.blobs.keys("inputs/") + fabric.studio.blobs.keys("results/")


@pytest.mark.timeout(90)
def test_the_worker_deletes_pictures_past_the_retention_time(
    fabric: Fabric, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATELIER_STUDIO__KEEP_DAYS", str(3 / 86400))  # three seconds
    monkeypatch.setenv("ATELIER_STUDIO__RETENTION_SWEEP_S", "1")
    fabric.start_worker(seconds=0.2)
    fabric.start_delivery()
    done = fabric.submit(FAST, 90)
    refused = fabric.submit(REFUSED, 91)
    wait_until(lambda: fabric.sender.delivered(done) and fabric.sender.delivered(refused), 60, "delivery")
    assert fabric.job(done).state is JobState.DONE and fabric.job(refused).state is JobState.FAILED
    assert not [key for key in pictures(fabric) if refused in key]  # failed: gone at once
    assert len([key for key in pictures(fabric) if done in key]) == 3
    wait_until(lambda: not pictures(fabric), 30, "the retention sweep")
    assert fabric.job(done).state is JobState.DONE  # the row stays
