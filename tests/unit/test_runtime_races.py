"""A job cancelled, or its user forgotten, while its last stage runs: the result written after the last
cancellation check must not outlive the job (the worker runtime in this process, a real Redis for its events,
the real job store and blob store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.config import Settings
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.imaging.pipelines.progress import ProgressCallback
from core.ports import ChatRef, JobState
from core.store import JobNotFound
from core.studio.service import Studio
from jobs import runtime
from tests.e2e.offline import photo_bytes
from tests.worker_in_process import events_redis_url, studio_with_worker

CHAT = ChatRef(platform="telegram", user_id="5", chat_id="50", lang="en")


class LastStage:
    """A pipeline whose last stage runs ``meanwhile`` (what the user does at that moment) after the last
    progress report, then returns its result."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        self.meanwhile = meanwhile

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        assert progress is not None
        progress("inpaint", 0.9)  # the last cancellation check: the job is still wanted here
        self.meanwhile()
        return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 255))


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", redis_url=events_redis_url())
    with studio_with_worker(settings, monkeypatch) as studio:
        yield studio


def run_with(studio: Studio, job_id: str, meanwhile: Callable[[], None]) -> None:
    runtime.register_pipeline("unmask", lambda _settings: LastStage(meanwhile))
    runtime.execute(job_id)


def test_a_result_written_after_its_job_was_cancelled_is_not_kept(studio: Studio) -> None:
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    run_with(studio, job_id, lambda: studio.cancel(job_id))
    assert studio.job(job_id).state is JobState.CANCELLED
    assert studio.blobs.keys("results/") == []


def test_a_result_written_after_its_user_was_forgotten_is_not_kept(studio: Studio) -> None:
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    run_with(studio, job_id, lambda: studio.identities.forget(CHAT))
    with pytest.raises(JobNotFound):
        studio.job(job_id)
    assert studio.blobs.keys("results/") == [] and studio.blobs.keys("inputs/") == []


def test_a_finished_job_keeps_its_result(studio: Studio) -> None:
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    run_with(studio, job_id, lambda: None)
    job = studio.job(job_id)
    assert job.state is JobState.DONE and job.result_key and studio.blobs.exists(job.result_key)


def test_the_warm_up_never_builds_a_pipeline_while_a_job_runs(studio: Studio) -> None:
    """Loading weights is not thread-safe (diffusers and accelerate build models on the meta device by
    patching ``torch.nn.Module`` for the whole process): a model a job builds while the warm-up thread loads
    another comes out empty. So the warm-up waits for a running job, and a job for the pipeline being
    loaded."""
    import threading
    import time

    spans: dict[str, tuple[float, float]] = {}
    job_running = threading.Event()

    class Slow:
        def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
            return JobOutputs(inputs.image, Image.new("L", inputs.image.size, 255))

    def loading(_settings: Settings) -> Slow:
        began = time.monotonic()
        time.sleep(0.3)
        spans["suit"] = (began, time.monotonic())
        return Slow()

    def meanwhile() -> None:
        began = time.monotonic()
        job_running.set()
        time.sleep(0.5)
        spans["job"] = (began, time.monotonic())

    runtime.register_pipeline("suit", loading)
    runtime.register_pipeline("unmask", lambda _settings: LastStage(meanwhile))
    ctx = runtime.context()
    ctx.pipeline("unmask")  # built before: only the job's run and the warm-up's load may meet
    job_id = studio.submit_unmask(CHAT, photo_bytes()).job_id
    worker = threading.Thread(target=runtime.execute, args=(job_id,))
    worker.start()
    assert job_running.wait(10)
    warm = ctx.warm_up(["suit"])
    worker.join(10)
    warm.join(10)
    (job_start, job_end), (load_start, load_end) = spans["job"], spans["suit"]
    assert load_start >= job_end or load_end <= job_start, spans
    assert studio.job(job_id).state is JobState.DONE
