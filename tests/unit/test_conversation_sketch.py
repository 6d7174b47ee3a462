"""/sketch through the console: a drawing's file with a strength queues one job; without a file the local
canvas link; a strength that is no number from 0 to 1 is refused; a server that cannot draw faces says so and
leaves /sketch out of /help. The studio is real (database, blob store, intake); the queue is in memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.config import ModelSettings, WebSettings
from core.messages import t
from core.ports import ChatRef
from core.store import PAUSED
from core.studio.canvas_links import read_canvas_token
from tests.conversation import Conversation, jpeg

DRAWS_FACES = ModelSettings(face_prior="stylegan")  # the offline tier draws faces with the face prior
SECRET = "canvas-secret"
WEB = WebSettings(port=8181, secret=SecretStr(SECRET))


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Conversation]:
    with Conversation(tmp_path, models=DRAWS_FACES, web=WEB) as conversation:
        yield conversation


@pytest.fixture
def drawing(tmp_path: Path) -> Path:
    return jpeg(tmp_path / "drawing.jpg", color=(245, 245, 240))


def test_a_drawing_with_a_strength_queues_one_sketch_job(chat: Conversation, drawing: Path) -> None:
    said = chat.say(f"/sketch {drawing} 0.7")
    assert "Queued (position 1)." in said
    job = chat.last_job
    assert chat.queue.enqueued == [(job.id, "gpu", "sketch")]
    assert job.params["options"]["strength"] == 0.7
    assert job.params["options"]["fast"] is False


@pytest.mark.parametrize(("words", "strength"), [("", 0.6), ("0", 0.0), ("1", 1.0), ("0,35", 0.35)])
def test_the_strength_is_0_6_unless_given(
    chat: Conversation, drawing: Path, words: str, strength: float
) -> None:
    chat.say(f"/sketch {drawing} {words}")
    assert chat.last_job.params["options"]["strength"] == strength


def test_the_strength_may_come_before_the_drawing(chat: Conversation, drawing: Path) -> None:
    chat.say(f"/sketch 0.9 {drawing}")
    assert chat.last_job.params["options"]["strength"] == 0.9


@pytest.mark.parametrize("word", ["abc", "1.5", "-0.1", "nan", "inf"])
def test_a_strength_that_is_no_number_from_0_to_1_is_refused_and_queues_nothing(
    chat: Conversation, drawing: Path, word: str
) -> None:
    assert chat.say(f"/sketch {drawing} {word}") == t("sketch.bad_strength", word=word) + "\n"
    assert chat.queue.enqueued == []


def test_sketch_alone_prints_the_local_canvas_link_for_the_member(chat: Conversation) -> None:
    said = chat.say("/sketch")
    assert said.startswith(f"{t('sketch.canvas')}\n{t('sketch.how.console')}\n")
    match = re.search(rf"{t('sketch.canvas_button')}: http://127\.0\.0\.1:8181/sketch\?token=(\S+)", said)
    assert match is not None, said
    assert read_canvas_token(SECRET, match.group(1)) == ChatRef("console", "operator", "local", "en")
    assert chat.queue.enqueued == []


def test_without_a_secret_to_sign_links_sketch_alone_explains_the_drawing_file(tmp_path: Path) -> None:
    with Conversation(tmp_path, models=DRAWS_FACES) as chat:
        assert chat.say("/sketch") == t("sketch.how.console") + "\n"


def test_a_sketch_job_comes_back_with_try_again_at_the_same_strength(
    chat: Conversation, drawing: Path
) -> None:
    chat.say(f"/sketch {drawing} 0.3")
    job = chat.last_job
    said = chat.finish(job.id)
    assert said.startswith(f"{job.id[:8]} {t('sketch.caption')} → ")
    chat.press("Try again", job_id=job.id)
    again = chat.last_job
    assert again.id != job.id and chat.queue.enqueued[-1] == (again.id, "gpu", "sketch")
    assert again.params["options"]["strength"] == 0.3


def test_the_pause_and_the_quotas_apply_before_the_drawing_is_read(chat: Conversation, drawing: Path) -> None:
    chat.studio.store.set_switch(PAUSED, True, "console:admin")
    assert chat.say(f"/sketch {drawing}") == t("studio.paused") + "\n"
    assert chat.queue.enqueued == []


def test_status_names_a_sketch_job(chat: Conversation, drawing: Path) -> None:
    chat.say(f"/sketch {drawing}")
    assert t("status.queued", what=t("status.kind.sketch"), position=1) in chat.say("/status")


def test_sketch_speaks_korean(tmp_path: Path, drawing: Path) -> None:
    with Conversation(tmp_path, lang="ko", models=DRAWS_FACES) as chat:
        assert chat.say("/sketch") == t("sketch.how.console", "ko") + "\n"
        assert chat.say(f"/sketch {drawing} 2") == t("sketch.bad_strength", "ko", word="2") + "\n"


def test_help_offers_sketch_where_the_server_draws_faces(chat: Conversation) -> None:
    assert "/sketch - " in chat.say("/help")


def test_a_server_that_cannot_draw_faces_says_so_and_leaves_sketch_out_of_help(
    tmp_path: Path, drawing: Path
) -> None:
    with Conversation(tmp_path, web=WEB) as chat:  # the offline tier without the face prior
        assert chat.say("/sketch") == t("sketch.unavailable") + "\n"
        assert chat.say(f"/sketch {drawing} 0.5") == t("sketch.unavailable") + "\n"
        assert chat.queue.enqueued == []
        help_text = chat.say("/help")
        assert "/sketch" not in help_text and "/tryon - " in help_text and "/help - " in help_text
