"""A /tryon job on the worker side, with a scripted pipeline in place of the real one: the garment reaches the
pipeline beside the photo, the result comes back to the chat with Try again, and a pipeline's refusal is a
sentence. The worker runtime runs in this process with a real Redis for its events; the console delivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image

from core.errors import UserError
from core.imaging.pipelines.jobio import JobInputs, JobOutputs
from core.imaging.pipelines.progress import ProgressCallback
from core.messages import LANGUAGES, t
from core.ports import JobState
from jobs import runtime
from tests.conversation import Conversation, jpeg
from tests.worker_in_process import events_redis_url

REFUSALS: dict[str, dict[str, Any]] = {
    "tryon.no_person": {},
    "tryon.several_people": {"count": 3},
    "tryon.no_upper_body": {},
    "tryon.no_garment": {},
    "tryon.same_photo": {},
}


class Wear:
    """Paints the garment's colour over the photo's lower half, or refuses as the real pipeline may."""

    def __init__(self, refuse: UserError | None = None) -> None:
        self.refuse = refuse
        self.seen: list[JobInputs] = []

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        self.seen.append(inputs)
        if self.refuse is not None:
            raise self.refuse
        garment = inputs.extras["garment"]
        result = inputs.image.copy()
        width, height = result.size
        worn = cast(tuple[int, int, int], garment.getpixel((0, 0)))
        result.paste(worn, (0, height // 2, width, height))
        mask = Image.new("L", result.size, 0)
        mask.paste(255, (0, height // 2, width, height))
        return JobOutputs(result, mask)


@pytest.fixture
def chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Conversation]:
    with Conversation(tmp_path) as conversation:
        conversation.settings.redis_url = events_redis_url()
        conversation.settings.moderation.enabled = False  # the content check has its own tests
        monkeypatch.setattr(runtime, "_settings", conversation.settings)
        monkeypatch.setattr(runtime, "_context", None)
        monkeypatch.setattr(runtime, "_registered", {})
        yield conversation
        if runtime._context is not None:
            runtime._context.store.close()


def work(chat: Conversation, pipeline: Wear, tmp_path: Path) -> str:
    """Send both photos, run the job as a worker would, deliver it; what the console printed."""
    me, shirt = (
        jpeg(tmp_path / "me.jpg", color=(190, 140, 120)),
        jpeg(tmp_path / "top.jpg", color=(20, 40, 200)),
    )
    chat.say(f"/tryon {me} {shirt}")
    runtime.register_pipeline("tryon", lambda _settings: pipeline)
    runtime.execute(chat.last_job.id)
    return chat.deliver(chat.last_job.id)


def test_the_garment_reaches_the_pipeline_and_the_result_comes_back_with_try_again(
    chat: Conversation, tmp_path: Path
) -> None:
    pipeline = Wear()
    said = work(chat, pipeline, tmp_path)
    job = chat.last_job
    (inputs,) = pipeline.seen
    assert set(inputs.extras) == {"garment"}
    assert inputs.extras["garment"].getpixel((8, 8))[2] > 150 > inputs.image.getpixel((8, 8))[2]  # type: ignore[index]
    assert job.state is JobState.DONE
    assert said.startswith(f"{job.id[:8]} {t('tryon.caption')} → ") and "Try again" in said
    with Image.open(tmp_path / "out" / f"{job.id}.png") as result:
        r, g, b = result.convert("RGB").getpixel((4, result.height - 4))  # type: ignore[misc]
    assert b > 150 and r < 80  # wearing the garment's colour


@pytest.mark.parametrize("key", list(REFUSALS))
def test_a_refusal_of_the_pipeline_reads_as_a_sentence_the_user_can_act_on(
    chat: Conversation, tmp_path: Path, key: str
) -> None:
    said = work(chat, Wear(UserError(key, **REFUSALS[key])), tmp_path)
    assert chat.last_job.state is JobState.FAILED
    assert t("job.failed", reason=t(key, **REFUSALS[key])) in said
    for lang in LANGUAGES:
        sentence = t(key, lang, **REFUSALS[key])
        assert sentence.rstrip().endswith((".", "요.", "다.")), (
            sentence
        )  # a whole sentence, in every language
    assert "3" in t("tryon.several_people", "ko", count=3)
