"""The bot process's ``/metrics`` after real jobs: submitted through the real studio, run by the worker
runtime in this process (real job store, blob store and Redis events), scraped over HTTP from the real web
app and read with prometheus-client's parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.config import Settings, StudioSettings
from core.errors import UserError
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.imaging.pipelines.progress import ProgressCallback
from core.ports import ChatRef, JobState
from core.studio.service import Studio
from jobs import runtime
from tests.e2e.offline import photo_bytes
from tests.metrics_scrape import scrape_bot, value
from tests.worker_in_process import events_redis_url, studio_with_worker

CHAT = ChatRef(platform="telegram", user_id="77", chat_id="770", lang="en")
TIMINGS = {"detect": 0.02, "inpaint": 0.4}


class Timed:
    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 255), timings=dict(TIMINGS))


class Refusing:
    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        raise UserError("moderation.flagged")


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    settings = Settings(
        data_dir=tmp_path / "data", redis_url=events_redis_url(), studio=StudioSettings(max_active_per_user=1)
    )
    with studio_with_worker(settings, monkeypatch) as studio:
        yield studio


def test_a_finished_job_counts_as_accepted_and_finished_with_its_queue_and_stage_times(
    studio: Studio,
) -> None:
    before = scrape_bot(studio)
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    queued = scrape_bot(studio)
    runtime.register_pipeline("unmask", lambda _settings: Timed())
    runtime.execute(job_id)
    after = scrape_bot(studio)

    assert studio.job(job_id).state is JobState.DONE
    accepted = "atelier_jobs_accepted_total"
    assert value(queued, accepted, kind="unmask") - value(before, accepted, kind="unmask") == 1
    assert value(queued, "atelier_queue_depth", queue="gpu", state="queued") == 1
    assert value(after, "atelier_queue_depth", queue="gpu", state="queued") == 0
    finished = "atelier_jobs_finished_total"
    assert value(after, finished, kind="unmask") - value(before, finished, kind="unmask") == 1
    waits = "atelier_job_queue_seconds_count"
    assert value(after, waits, kind="unmask") - value(before, waits, kind="unmask") == 1
    for stage, seconds in TIMINGS.items():
        count, total = "atelier_stage_seconds_count", "atelier_stage_seconds_sum"
        assert (
            value(after, count, kind="unmask", stage=stage) - value(before, count, kind="unmask", stage=stage)
            == 1
        )
        grown = value(after, total, kind="unmask", stage=stage) - value(
            before, total, kind="unmask", stage=stage
        )
        assert grown == pytest.approx(seconds)


def test_a_failed_job_counts_under_its_reason(studio: Studio) -> None:
    before = scrape_bot(studio)
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    runtime.register_pipeline("unmask", lambda _settings: Refusing())
    runtime.execute(job_id)
    after = scrape_bot(studio)

    failed = "atelier_jobs_failed_total"
    labels = {"kind": "unmask", "reason": "moderation.flagged"}
    assert value(after, failed, **labels) - value(before, failed, **labels) == 1


def test_refused_jobs_count_once_under_their_reason(studio: Studio) -> None:
    before = scrape_bot(studio)
    with pytest.raises(UserError) as bad_photo:
        studio.submit_unmask(CHAT, b"GIF89a not really a photo")
    studio.submit_unmask(CHAT, photo_bytes())
    with pytest.raises(UserError) as over_quota:
        studio.submit_unmask(CHAT, photo_bytes())
    after = scrape_bot(studio)

    assert bad_photo.value.key.startswith("intake.")
    assert over_quota.value.key == "quota.active"
    refused = "atelier_jobs_refused_total"
    for key in (bad_photo.value.key, over_quota.value.key):
        labels = {"kind": "unmask", "reason": key}
        assert value(after, refused, **labels) - value(before, refused, **labels) == 1
    accepted = "atelier_jobs_accepted_total"
    assert value(after, accepted, kind="unmask") - value(before, accepted, kind="unmask") == 1
