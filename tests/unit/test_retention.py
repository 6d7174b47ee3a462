"""Retention: a job's photo and results are deleted ``keep_days`` after it ended, a failed or cancelled job's
at once, and selfies are left to /train's rules (the worker runtime in this process, the real job store and
blob store, a real Redis for its events)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from core.config import Settings
from core.errors import UserError
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.imaging.pipelines.progress import ProgressCallback
from core.kinds import KINDS
from core.ports import ChatRef, JobState
from core.retention import purge_expired
from core.store import NewJob
from core.store.models import utcnow
from core.studio.service import Studio
from jobs import runtime
from tests.e2e.offline import photo_bytes
from tests.worker_in_process import events_redis_url, studio_with_worker

CHAT = ChatRef(platform="telegram", user_id="5", chat_id="50", lang="en")


class Scripted:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        if self.refuse:
            raise UserError("unmask.no_face")
        return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 255))


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", redis_url=events_redis_url())
    with studio_with_worker(settings, monkeypatch) as studio:
        yield studio


def run(studio: Studio, *, refuse: bool = False) -> str:
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    runtime.register_pipeline("unmask", lambda _settings: Scripted(refuse))
    runtime.execute(job_id)
    return job_id


def pictures(studio: Studio) -> list[str]:
    return sorted(studio.blobs.keys("inputs/") + studio.blobs.keys("results/"))


def test_a_done_job_keeps_its_pictures_until_keep_days_have_passed(studio: Studio) -> None:
    job_id = run(studio)
    job = studio.job(job_id)
    assert job.state is JobState.DONE and len(pictures(studio)) == 3  # photo, result, edit mask
    keep = studio.settings.studio.keep_days
    assert purge_expired(studio.store, studio.blobs, keep).jobs == 0
    assert purge_expired(studio.store, studio.blobs, keep, utcnow() + timedelta(days=keep - 1)).jobs == 0
    assert len(pictures(studio)) == 3

    report = purge_expired(studio.store, studio.blobs, keep, utcnow() + timedelta(days=keep, minutes=1))
    assert report.jobs == 1 and pictures(studio) == []
    assert studio.job(job_id).state is JobState.DONE  # the row stays, without pictures
    # A second sweep finds nothing more to do.
    assert purge_expired(studio.store, studio.blobs, keep, utcnow() + timedelta(days=30)).jobs == 0


def test_try_again_after_retention_says_the_photo_is_gone(studio: Studio) -> None:
    job_id = run(studio)
    purge_expired(studio.store, studio.blobs, 1.0, utcnow() + timedelta(days=2))
    with pytest.raises(UserError) as refused:
        studio.retry(CHAT, job_id)
    assert refused.value.key == "job.gone"


def test_a_failed_jobs_photo_is_deleted_as_it_fails(studio: Studio) -> None:
    job_id = run(studio, refuse=True)
    assert studio.job(job_id).state is JobState.FAILED
    assert pictures(studio) == []


def test_a_cancelled_jobs_photo_goes_with_the_next_sweep_whatever_its_age(studio: Studio) -> None:
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    assert studio.cancel(job_id)
    assert len(pictures(studio)) == 1
    assert purge_expired(studio.store, studio.blobs, studio.settings.studio.keep_days).jobs == 1
    assert pictures(studio) == []


def test_a_selfie_check_follows_the_training_rules_not_retention(studio: Studio) -> None:
    assert not KINDS["selfie"].retention and not KINDS["train"].retention
    studio.blobs.put("inputs/selfie1.png", photo_bytes())
    studio.store.create_job(
        NewJob(id="selfie1", kind="selfie", queue="cpu", chat=CHAT, input_key="inputs/selfie1.png")
    )
    studio.store.cancel("selfie1")
    assert purge_expired(studio.store, studio.blobs, 1.0, utcnow() + timedelta(days=365)).jobs == 0
    assert studio.blobs.exists("inputs/selfie1.png")
