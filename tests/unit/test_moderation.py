"""The content check of results: the real NudeNet detector from its wheel, real photos, the worker runtime in
this process with the real job and blob stores and a real Redis for its events.

No explicit image is or may be part of this repository, so "flagged" is shown with a watched label the
shared photos do contain (a face); the default labels are checked to leave those photos alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from core.config import ModerationSettings, Settings
from core.imaging.moderation import ContentCheck
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.imaging.pipelines.progress import ProgressCallback
from core.messages import t
from core.ports import ChatRef, JobState
from core.studio.delivery import failure_text
from core.studio.service import Studio
from jobs import runtime
from tests.worker_in_process import events_redis_url, studio_with_worker

CHAT = ChatRef(platform="telegram", user_id="5", chat_id="50", lang="ko")
WATCH_FACES = ModerationSettings(labels=["FACE_FEMALE", "FACE_MALE"], threshold=0.3)


@pytest.fixture(scope="module")
def face(shared_data: Path) -> Image.Image:
    return Image.open(shared_data / "faces" / "without_mask" / "nm_011.jpg").convert("RGB")


def test_the_default_labels_pass_ordinary_portraits(shared_data: Path) -> None:
    check = ContentCheck(ModerationSettings())
    photos = sorted((shared_data / "faces" / "without_mask").glob("*.jpg"))[:8]
    photos += sorted((shared_data / "tryon" / "people").glob("*.jpg"))[:4]
    for path in photos:
        verdict = check.check(Image.open(path))
        assert not verdict.flagged and verdict.score < 0.5, (path.name, verdict)


def test_a_watched_label_is_found_in_the_image_and_in_its_mirror(face: Image.Image) -> None:
    check = ContentCheck(WATCH_FACES)
    verdict = check.check(face)
    assert verdict.flagged and verdict.label in WATCH_FACES.labels
    assert check.check(ImageOps.mirror(face)).score == pytest.approx(verdict.score, abs=1e-4)
    assert not check.check(Image.new("RGB", face.size, (90, 120, 160))).flagged


def test_unknown_labels_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="NUDITY"):
        ContentCheck(ModerationSettings(labels=["NUDITY"]))


class Returns:
    def __init__(self, image: Image.Image) -> None:
        self.image = image

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        return JobOutputs(self.image, Image.new("L", self.image.size, 255))


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Studio]:
    settings = Settings(data_dir=tmp_path / "data", redis_url=events_redis_url(), moderation=WATCH_FACES)
    with studio_with_worker(settings, monkeypatch) as studio:
        yield studio


def test_a_flagged_result_is_never_stored_and_the_user_gets_a_neutral_sentence(
    studio: Studio, face: Image.Image, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = Path(studio.settings.data_dir) / "in.jpg"
    face.save(buffer)
    job_id = studio.submit_unmask(CHAT, buffer.read_bytes()).job_id
    runtime.register_pipeline("unmask", lambda _settings: Returns(face))
    runtime.execute(job_id)

    job = studio.job(job_id)
    assert job.state is JobState.FAILED and job.error_key == "moderation.flagged"
    assert studio.blobs.keys("results/") == [] and studio.blobs.keys("inputs/") == []
    assert failure_text(job) == t("job.failed", "ko", reason=t("moderation.flagged", "ko"))
    assert f"job {job_id}: result withheld by the content check (FACE_" in caplog.text


def test_a_clean_result_is_stored_as_usual(studio: Studio, face: Image.Image) -> None:
    buffer = Path(studio.settings.data_dir) / "in.jpg"
    face.save(buffer)
    job_id = studio.submit_unmask(CHAT, buffer.read_bytes()).job_id
    runtime.register_pipeline(
        "unmask", lambda _settings: Returns(Image.new("RGB", face.size, (90, 120, 160)))
    )
    runtime.execute(job_id)
    job = studio.job(job_id)
    assert job.state is JobState.DONE and job.result_key and studio.blobs.exists(job.result_key)
