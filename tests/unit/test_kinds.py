"""The kind table is the one place a job kind is declared: every kind in it has a Celery task on its queue, a
worker runner, status and result texts in every language, and (when a user starts it) a command that the
parity tests hold every front end to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery

from core.config import Settings
from core.kinds import KINDS, QUEUES, JobKind
from core.messages import LANGUAGES, MESSAGES
from core.ports import ChatRef
from core.studio.commands import command_table
from jobs.celery_app import create_app
from jobs.tasks import register_tasks

ROOT = Path(__file__).resolve().parents[2]
SPECS = list(KINDS.values())
NAMES = list(KINDS)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Celery:
    # The broker is only read into the configuration, never connected to: a name that resolves nowhere.
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), redis_url="redis://broker.test:6379/4")
    app = create_app(settings)
    register_tasks(app, settings)
    return app


@pytest.mark.parametrize("kind", SPECS, ids=NAMES)
def test_each_kind_has_a_task_on_its_queue(kind: JobKind, app: Celery) -> None:
    assert kind.queue in QUEUES
    assert f"atelier.{kind.name}" in app.tasks
    assert app.conf.task_routes[f"atelier.{kind.name}"] == {"queue": kind.queue}


@pytest.mark.parametrize("kind", SPECS, ids=NAMES)
def test_each_kind_has_a_worker_runner(kind: JobKind) -> None:
    runner = kind.load_runner()  # imports the module (torch included): the worker's side
    assert callable(runner)
    if kind.retryable or kind.extra_results:
        assert kind.result == "image", "only an image result can be painted again or carry extra images"


@pytest.mark.parametrize("kind", SPECS, ids=NAMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_kind_speaks_every_language(kind: JobKind, lang: str) -> None:
    keys = [f"status.kind.{kind.name}"]
    if kind.result == "image":
        keys += [kind.caption, *(f"result.{name}" for name in kind.extra_results)]
    missing = [key for key in keys if key not in MESSAGES[lang]]
    assert not missing, f"{kind.name}: no {lang} text for {missing}"


@pytest.mark.parametrize("kind", [k for k in SPECS if k.command], ids=[k.name for k in SPECS if k.command])
def test_a_kind_a_user_starts_is_a_command_of_the_core(kind: JobKind) -> None:
    # tests/unit/test_parity.py holds every front end to this table.
    assert kind.command in {spec.name for spec in command_table()}


def test_the_worker_runtime_loads_nothing_of_the_chat_side() -> None:
    chat_side = ["core.studio", "core.messages"]  # the chat-facing package, and its text catalogue
    code = (
        "import sys\n"
        "import jobs.runtime, jobs.tasks, jobs.celery_app\n"
        f"loaded = sorted(m for m in {chat_side!r} if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_a_job_takes_only_the_extra_images_its_kind_declares(tmp_path: Path) -> None:
    from core.studio.service import bootstrap
    from tests.e2e.offline import photo_bytes
    from tests.fakes import MemoryQueue

    queue = MemoryQueue()
    studio = bootstrap(Settings(data_dir=tmp_path / "data"), queue=queue)
    chat = ChatRef(platform="console", user_id="u1", chat_id="c1", lang="en")
    try:
        with pytest.raises(ValueError, match="exemplar"):
            studio.submit("unmask", chat, photo_bytes(), {}, {"exemplar": photo_bytes()}, None, None)
        assert queue.enqueued == [] and studio.active_jobs(chat) == []
        studio.submit("suit", chat, photo_bytes(), {}, {"exemplar": photo_bytes()}, None, None)
        assert queue.kinds() == ["suit"]
    finally:
        studio.store.close()
